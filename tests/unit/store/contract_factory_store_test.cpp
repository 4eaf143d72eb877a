// Contract of the factory ports (factory::SiteRegistry, ImportLedger,
// StationRecords; see store_contract.h).
#include "store_contract.h"

namespace hallmark::store {
namespace {

using base::ErrorCode;
using testing::event;
using testing::kT0;
using testing::pending_entry;

class FactoryStoreContract : public testing::StoreContract {
 protected:
  static factory::SiteRecord site(const std::string& id, int seconds = 0) {
    return {id, "active", R"({"quota":10})", kT0 + std::chrono::seconds(seconds), std::nullopt};
  }
  static factory::StationRecord station(const std::string& site, int n) {
    return {site, n, "statement-" + std::to_string(n), base::Bytes{0x01, 0x02, static_cast<std::uint8_t>(n)}, 0, {}};
  }
  static ca::LedgerEntry imported(const std::string& serial, const std::string& device, const std::string& origin) {
    auto e = pending_entry(serial, device);
    e.profile = "idevid";
    e.issuer = "site:s1";
    e.channel = audit::Channel::Factory;
    e.origin = origin;
    e.key_fingerprint = "key-" + device;
    e.der = {0x30, 0x03, 0x01, 0x02, 0x03};
    return e;
  }
};

TEST_P(FactoryStoreContract, SitesAndTheirStationsAreAddedAndListedOldestFirst) {
  ASSERT_TRUE(m_store->sites().add_site(site("s2", 5), {station("s2", 1)}).ok());
  ASSERT_TRUE(m_store->sites().add_site(site("s1", 1), {station("s1", 2), station("s1", 1)}).ok());

  auto all = m_store->sites().sites();
  ASSERT_TRUE(all.ok()) << all.error().describe();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "s1");
  EXPECT_EQ((*all)[0].scope, R"({"quota":10})");
  EXPECT_EQ((*all)[0].created, kT0 + std::chrono::seconds(1));
  EXPECT_FALSE((*all)[0].retired.has_value());

  auto stations = m_store->sites().stations("s1");
  ASSERT_TRUE(stations.ok());
  ASSERT_EQ(stations->size(), 2u);
  EXPECT_EQ((*stations)[0].station, 1);
  EXPECT_EQ((*stations)[0].statement, "statement-1");
  EXPECT_EQ((*stations)[0].signature, (base::Bytes{0x01, 0x02, 0x01}));
  EXPECT_EQ((*stations)[0].last_sequence, 0u);
  EXPECT_TRUE((*stations)[0].last_hash.empty());

  EXPECT_TRUE(m_store->sites().find_site("s2")->has_value());
  EXPECT_FALSE(m_store->sites().find_site("s9")->has_value());
}

TEST_P(FactoryStoreContract, AddingASiteTwiceIsAlreadyExistsAndAddsNoStation) {
  ASSERT_TRUE(m_store->sites().add_site(site("s1"), {station("s1", 1)}).ok());
  auto again = m_store->sites().add_site(site("s1"), {station("s1", 1), station("s1", 2)});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::AlreadyExists);
  EXPECT_NE(again.error().detail.find("s1"), std::string::npos);
  EXPECT_EQ(m_store->sites().stations("s1")->size(), 1u);
}

TEST_P(FactoryStoreContract, RetiringASiteRetiresItsCaAndASecondRetireIsNotFound) {
  ASSERT_TRUE(m_store->issuers().add_issuer({"site:s1", "site", "factory", {0x30}, "offline:s1", "active"}).ok());
  ASSERT_TRUE(m_store->sites().add_site(site("s1"), {}).ok());
  ASSERT_TRUE(m_store->sites().retire_site("s1", kT0 + std::chrono::hours(1)).ok());
  auto s = m_store->sites().find_site("s1").value();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->status, "retired");
  EXPECT_EQ(s->retired, kT0 + std::chrono::hours(1));
  EXPECT_EQ(m_store->issuers().find_issuer("site:s1").value()->status, "retired");

  auto again = m_store->sites().retire_site("s1", kT0);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::NotFound);
}

TEST_P(FactoryStoreContract, StationRecordHashesAreKeptAndTheStationHeadOnlyMovesForward) {
  ASSERT_TRUE(m_store->sites().add_site(site("s1"), {station("s1", 1)}).ok());
  auto& imports = m_store->imports();
  ASSERT_TRUE(imports.add_station_records("s1", 1, {{1, base::Bytes(32, 1)}, {2, base::Bytes(32, 2)}}).ok());
  EXPECT_EQ(imports.station_record_hash("s1", 1, 2).value(), base::Bytes(32, 2));
  EXPECT_FALSE(imports.station_record_hash("s1", 1, 3)->has_value());
  // Re-importing an older slice keeps the head and the first hash recorded.
  ASSERT_TRUE(imports.add_station_records("s1", 1, {{1, base::Bytes(32, 9)}}).ok());
  EXPECT_EQ(imports.station_record_hash("s1", 1, 1).value(), base::Bytes(32, 1));
  auto st = m_store->sites().stations("s1").value();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].last_sequence, 2u);
  EXPECT_EQ(st[0].last_hash, base::Bytes(32, 2));
}

TEST_P(FactoryStoreContract, ImportingAnIdevidRegistersTheDeviceAndAppendsOneAuditRecord) {
  auto& imports = m_store->imports();
  ASSERT_TRUE(
      imports.import_certificate(imported("AA01", "SN-1", "site:s1/station:1/"), event("import", "AA01"), nullptr)
          .ok());
  EXPECT_TRUE(imports.certificate_known("AA01").value());
  EXPECT_FALSE(imports.certificate_known("AA02").value());
  auto dev = imports.device("SN-1").value();
  ASSERT_TRUE(dev.has_value());
  EXPECT_EQ(dev->issuer, "site:s1");
  EXPECT_EQ(dev->idevid_serial, "AA01");
  auto entry = m_store->ledger().find("AA01").value();
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->status, ca::CertificateStatus::Issued);
  EXPECT_TRUE(entry->tbs.empty());
  EXPECT_EQ(audit_records().size(), 1u);
  EXPECT_EQ(m_store->station_records().devices_issued().value(), 1u);

  // The same serial again: refused, and the failed transaction leaves no audit record.
  auto dup =
      imports.import_certificate(imported("AA01", "SN-2", "site:s1/station:1/"), event("import", "AA01"), nullptr);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::AlreadyExists);
  EXPECT_EQ(audit_records().size(), 1u);
  EXPECT_FALSE(imports.device("SN-2")->has_value());
}

TEST_P(FactoryStoreContract, KeyOwnersAndDevicesByOriginPrefixAreAnsweredLiterally) {
  auto& imports = m_store->imports();
  ASSERT_TRUE(
      imports.import_certificate(imported("AB01", "SN-1", "site:s_1/station:1/"), event("import"), nullptr).ok());
  ASSERT_TRUE(
      imports.import_certificate(imported("AB02", "SN-2", "site:s_1/station:2/"), event("import"), nullptr).ok());
  ASSERT_TRUE(
      imports.import_certificate(imported("AB03", "SN-3", "site:sX1/station:1/"), event("import"), nullptr).ok());
  EXPECT_EQ(imports.devices_with_origin("site:s_1/").value(), 2u);  // '_' is not a wildcard
  EXPECT_EQ(imports.devices_with_origin("site:s_1/station:2/").value(), 1u);
  EXPECT_EQ(imports.devices_with_origin("site:%/").value(), 0u);

  EXPECT_EQ(imports.key_owner("key-SN-1", "SN-9").value(), std::optional<std::string>("SN-1"));
  EXPECT_FALSE(imports.key_owner("key-SN-1", "SN-1")->has_value());
  EXPECT_EQ(m_store->station_records().key_owner("key-SN-2").value(), std::optional<std::string>("SN-2"));
  EXPECT_FALSE(m_store->station_records().key_owner("key-none")->has_value());
}

TEST_P(FactoryStoreContract, TheExportPositionStartsAtZeroAndIsOverwritten) {
  auto& st = m_store->station_records();
  EXPECT_EQ(st.exported_up_to().value(), 0u);
  ASSERT_TRUE(st.set_exported_up_to(17).ok());
  ASSERT_TRUE(st.set_exported_up_to(42).ok());
  EXPECT_EQ(st.exported_up_to().value(), 42u);
}

HALLMARK_STORE_CONTRACT(FactoryStoreContract);

}  // namespace
}  // namespace hallmark::store
