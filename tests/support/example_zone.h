#pragma once
// The zone most DNS tests answer from: every kind of node the answerer
// (server/answer.cc) distinguishes (apex, CNAME chains, wildcards, empty
// non-terminals, a zone cut with glue, an RRset too large for 512 octets).

namespace meridian::test {

inline const char* kExampleZone = R"(
$ORIGIN example.com.
$TTL 3600
@        IN SOA  ns1.example.com. hostmaster.example.com. 2026112701 7200 3600 1209600 300
@        IN NS   ns1.example.com.
@        IN NS   ns2.example.net.
@        IN MX   10 mail.example.com.
@        IN A    192.0.2.1
ns1      IN A    192.0.2.53
ns1      IN AAAA 2001:db8::53
www      IN A    192.0.2.10
www      IN A    192.0.2.11
www      IN AAAA 2001:db8::10
mail     IN A    192.0.2.25
alias    IN CNAME www
chain1   IN CNAME chain2
chain2   IN CNAME www.example.com.
outside  IN CNAME www.example.org.
dangling IN CNAME nothere
loop1    IN CNAME loop2
loop2    IN CNAME loop1
*.wild   IN A    192.0.2.99
*.wild   IN TXT  "wildcard"
a.b.c.deep IN A  192.0.2.77
txt      IN TXT  "hello world" "second string"
sub      IN NS   ns1.sub.example.com.
sub      IN NS   ns.elsewhere.net.
sub      IN DS   12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns1.sub  IN A    192.0.2.200
big      IN TXT  "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT  "1123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT  "2123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT  "3123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT  "4123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT  "5123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
)";

}  // namespace meridian::test
