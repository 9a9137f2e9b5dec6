#pragma once
// DNS protocol numbers used across Meridian (RFC 1035, 2308, 6891, 7871, 7873, 8482).

#include <cstddef>
#include <cstdint>

namespace meridian::wire {

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxNameLength = 255;  // wire octets, including the root label
inline constexpr size_t kMaxLabelLength = 63;
inline constexpr size_t kMaxLabels = 128;  // 127 one-octet labels plus the root
inline constexpr size_t kMaxTcpMessage = 65535;
inline constexpr uint16_t kClassicUdpPayload = 512;
inline constexpr uint16_t kDefaultEdnsPayload = 1232;  // DNS flag day 2020

namespace type {
inline constexpr uint16_t A = 1;
inline constexpr uint16_t NS = 2;
inline constexpr uint16_t CNAME = 5;
inline constexpr uint16_t SOA = 6;
inline constexpr uint16_t PTR = 12;
inline constexpr uint16_t HINFO = 13;
inline constexpr uint16_t MX = 15;
inline constexpr uint16_t TXT = 16;
inline constexpr uint16_t AAAA = 28;
inline constexpr uint16_t SRV = 33;
inline constexpr uint16_t DNAME = 39;
inline constexpr uint16_t OPT = 41;
inline constexpr uint16_t DS = 43;
inline constexpr uint16_t RRSIG = 46;
inline constexpr uint16_t TSIG = 250;
inline constexpr uint16_t IXFR = 251;
inline constexpr uint16_t AXFR = 252;
inline constexpr uint16_t MAILB = 253;
inline constexpr uint16_t MAILA = 254;
inline constexpr uint16_t ANY = 255;
}  // namespace type

namespace qclass {
inline constexpr uint16_t IN = 1;
inline constexpr uint16_t CH = 3;
inline constexpr uint16_t ANY = 255;
}  // namespace qclass

namespace opcode {
inline constexpr uint8_t QUERY = 0;
}

namespace rcode {
inline constexpr uint16_t NOERROR = 0;
inline constexpr uint16_t FORMERR = 1;
inline constexpr uint16_t SERVFAIL = 2;
inline constexpr uint16_t NXDOMAIN = 3;
inline constexpr uint16_t NOTIMP = 4;
inline constexpr uint16_t REFUSED = 5;
inline constexpr uint16_t NOTAUTH = 9;
inline constexpr uint16_t BADVERS = 16;    // extended: needs an OPT record to carry the upper bits
inline constexpr uint16_t BADCOOKIE = 23;  // extended (RFC 7873 8): upper bits 1, header bits 7
inline constexpr int kCount = 24;          // counters are kept for 0..23

/// Mnemonic of the RCODEs Meridian sends, nullptr for the others.
inline constexpr const char* name(uint16_t code) noexcept {
  switch (code) {
    case NOERROR: return "NOERROR";
    case FORMERR: return "FORMERR";
    case SERVFAIL: return "SERVFAIL";
    case NXDOMAIN: return "NXDOMAIN";
    case NOTIMP: return "NOTIMP";
    case REFUSED: return "REFUSED";
    case NOTAUTH: return "NOTAUTH";
    case BADVERS: return "BADVERS";
    case BADCOOKIE: return "BADCOOKIE";
    default: return nullptr;
  }
}
}  // namespace rcode

namespace edns {
inline constexpr uint16_t kOptionNsid = 3;     // RFC 5001 Name Server Identifier
inline constexpr uint16_t kOptionEcs = 8;      // RFC 7871 Client Subnet
inline constexpr uint16_t kOptionCookie = 10;  // RFC 7873 DNS Cookie
inline constexpr size_t kClientCookieLength = 8;
inline constexpr size_t kMinServerCookieLength = 8;   // RFC 7873 4: 8 to 32 octets
inline constexpr size_t kMaxServerCookieLength = 32;
inline constexpr uint16_t kFamilyIPv4 = 1;
inline constexpr uint16_t kFamilyIPv6 = 2;
}  // namespace edns

/// Header flag bits as they sit in the 16-bit flags word.
namespace flag {
inline constexpr uint16_t QR = 0x8000;
inline constexpr uint16_t AA = 0x0400;
inline constexpr uint16_t TC = 0x0200;
inline constexpr uint16_t RD = 0x0100;
inline constexpr uint16_t RA = 0x0080;
inline constexpr uint16_t AD = 0x0020;
inline constexpr uint16_t CD = 0x0010;
}  // namespace flag

/// RFC 3597 section 4: only the RFC 1035 types may carry compressed names in
/// their rdata. Meridian lowercases those names at load time and compresses
/// them on output.
inline constexpr bool hasCompressibleNames(uint16_t t) noexcept {
  return t == type::NS || t == type::CNAME || t == type::PTR || t == type::MX || t == type::SOA;
}

inline uint16_t readU16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t readU32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void writeU16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void writeU32(uint8_t* p, uint32_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace meridian::wire
