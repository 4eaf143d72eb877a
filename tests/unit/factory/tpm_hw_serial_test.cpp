// hwSerialNum of a TPM device's IDevID (standards.md §1.3): the string form
// "<manufacturer>:<EK AKI>:<EK serial>" when the EK certificate names its
// manufacturer and issuer key, else the digest of the EK public key.
#include <gtest/gtest.h>

#include "base/crypto.h"
#include "factory/evidence.h"

namespace hallmark::factory {
namespace {

attest::TpmVerdict verdict() {
  attest::TpmVerdict v;
  v.ek_spki = base::Bytes(91, 0x42);
  v.ek_aki = {0x10, 0x22, 0x6A, 0x87};
  v.ek_serial_hex = "0A1B";
  v.tpm_manufacturer = "id:49465800";  // "IFX\0"
  return v;
}

TEST(TpmHwSerialNum, IsTheAsciiManufacturerCodeAndTheEkAkiAndSerialInLowerCaseHex) {
  EXPECT_EQ(tpm_hw_serial_num(verdict()), "IFX:10226a87:0a1b");
  const auto hmn = tpm_hardware_module(verdict());
  EXPECT_EQ(hmn.hw_type, "2.23.133.1.2");
  EXPECT_EQ(hmn.hw_serial, base::to_bytes("IFX:10226a87:0a1b"));
}

TEST(TpmHwSerialNum, KeepsTheHexDigitsOfAManufacturerIdThatIsNotAscii) {
  EXPECT_EQ(tpm_manufacturer_code("id:53544D20"), "STM ");
  EXPECT_EQ(tpm_manufacturer_code("id:00001014"), "00001014");  // swtpm's default
  EXPECT_EQ(tpm_manufacturer_code("id:494E5443"), "INTC");
  EXPECT_EQ(tpm_manufacturer_code("Acme"), "Acme");
  EXPECT_EQ(tpm_manufacturer_code("id:00000000"), "00000000");
}

TEST(TpmHwSerialNum, FallsBackToTheEkKeyDigestWithoutManufacturerOrAki) {
  auto v = verdict();
  v.tpm_manufacturer.clear();
  EXPECT_EQ(tpm_hw_serial_num(v), "");
  EXPECT_EQ(tpm_hardware_module(v).hw_serial, base::sha256(v.ek_spki));
  v = verdict();
  v.ek_aki.clear();
  EXPECT_EQ(tpm_hardware_module(v).hw_serial, base::sha256(v.ek_spki));
}

}  // namespace
}  // namespace hallmark::factory
