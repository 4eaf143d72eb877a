#include "base/crypto.h"

#include <gtest/gtest.h>

using namespace hallmark::base;

TEST(Digest, Sha256OfAbcMatchesFips180Vector) {
  EXPECT_EQ(hex_encode(sha256(view("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(EcdsaFormat, RawToDerAndBackIsIdentity) {
  Bytes raw(64);
  for (int i = 0; i < 64; ++i) raw[i] = static_cast<std::uint8_t>(i + 1);
  raw[0] = 0x80;  // high bit: DER needs a leading zero
  auto der = ecdsa_raw_to_der(raw);
  ASSERT_TRUE(der.ok());
  auto back = ecdsa_der_to_raw(der.value(), 32);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), raw);
}

TEST(KeyAlgorithmNames, ParseAndPrint) {
  EXPECT_EQ(parse_key_algorithm("p384").value(), KeyAlgorithm::EcP384);
  EXPECT_FALSE(parse_key_algorithm("dsa").ok());
}
