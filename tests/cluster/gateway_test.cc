// The etcd client's pure parts, no etcd needed: base64, prefix ranges, the
// --etcd URL list, the gateway's JSON requests and (hostile) replies, and
// how etcd's gRPC codes become error kinds.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "cluster/base64.h"
#include "cluster/etcd_json.h"
#include "cluster/etcd_types.h"

using namespace meridian::cluster;
using nlohmann::json;

TEST_CASE("base64: RFC 4648 vectors both ways, any byte") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(base64Encode(plain) == encoded);
    CHECK(base64Decode(encoded) == std::string(plain));
  }
  std::string every;
  for (int i = 0; i < 256; ++i) every += static_cast<char>(i);
  CHECK(base64Decode(base64Encode(every)) == every);
}

TEST_CASE("base64: anything but canonical padded base64 is refused") {
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "Zh==", "Zm9=", "====",
                          "Zm 9", "Zm9v\n"}) {
    CAPTURE(bad);
    CHECK_FALSE(base64Decode(bad).has_value());
  }
}

TEST_CASE("prefixEnd: the first key after every key with the prefix") {
  CHECK(prefixEnd("a/") == "a0");
  CHECK(prefixEnd("abc") == "abd");
  CHECK(prefixEnd(std::string("a\xff", 2)) == "b");
  CHECK(prefixEnd(std::string("\xff\xff", 2)) == std::string(1, '\0'));
  CHECK(prefixEnd("") == std::string(1, '\0'));
}

TEST_CASE("parseEndpoints: a comma-separated list of http(s)://HOST:PORT, errors name the URL") {
  CHECK(parseEndpoints("http://198.18.0.11:2379") == std::vector<std::string>{"http://198.18.0.11:2379"});
  CHECK(parseEndpoints("http://a:2379/,https://[2001:db8::1]:2379") ==
        std::vector<std::string>{"http://a:2379", "https://[2001:db8::1]:2379"});
  for (const char* bad : {"", "a:2379", "ftp://a:2379", "http://a", "http://a:0", "http://a:65536",
                          "http://a:2379/v3", "http://:2379", "http://2001:db8::1:2379",
                          "http://a:2379,,http://b:2379", "http://user@a:2379", "http://a:23x9"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parseEndpoints(bad), std::invalid_argument);
  }
  CHECK_THROWS_WITH(parseEndpoints("http://a:2379,ftp://b:1"),
                    doctest::Contains("etcd endpoint 'ftp://b:1'"));
}

TEST_CASE("gateway requests: bytes in base64, 64-bit numbers as strings, prefix as range_end") {
  RangeOptions options;
  options.prefix = true;
  options.revision = 42;
  options.limit = 7;
  const json range = gateway::rangeRequest("z/", options);
  CHECK(range["key"] == "ei8=");
  CHECK(range["range_end"] == base64Encode("z0"));
  CHECK(range["revision"] == "42");
  CHECK(range["limit"] == "7");
  CHECK_FALSE(range.contains("serializable"));

  const json put = gateway::putRequest(std::string("k\0", 2), "v", 9007199254740993);
  CHECK(put["key"] == "awA=");
  CHECK(put["lease"] == "9007199254740993");  // above 2^53: exact only as a string

  const json txn = gateway::txnRequest(
      {Compare::modRevision("cfg/rev", Compare::Result::kEqual, 17),
       Compare::version("new", Compare::Result::kEqual, 0),
       Compare::valueIs("v", Compare::Result::kNotEqual, "x")},
      {TxnOp::put("a", "1"), TxnOp::delPrefix("old/")}, {TxnOp::get("cfg/rev")});
  CHECK(txn["compare"][0] == json{{"key", base64Encode("cfg/rev")}, {"target", "MOD"},
                                  {"result", "EQUAL"}, {"mod_revision", "17"}});
  CHECK(txn["compare"][1]["target"] == "VERSION");
  CHECK(txn["compare"][1]["version"] == "0");
  CHECK(txn["compare"][2]["result"] == "NOT_EQUAL");
  CHECK(txn["compare"][2]["value"] == base64Encode("x"));
  CHECK(txn["success"][1]["request_delete_range"]["range_end"] == base64Encode("old0"));
  CHECK(txn["failure"][0]["request_range"]["key"] == base64Encode("cfg/rev"));

  const json watch = gateway::watchCreateRequest("w/", "w0", 0);
  CHECK_FALSE(watch["create_request"].contains("start_revision"));  // 0: from now
  CHECK(gateway::watchCreateRequest("w/", "w0", 5)["create_request"]["start_revision"] == "5");
}

TEST_CASE("gateway replies: defaults left out, values decoded") {
  const json range = json::parse(R"({"header":{"revision":"12"},"kvs":[{"key":"YQ==",
      "create_revision":"3","mod_revision":"12","version":"4","value":"Yg=="},{"key":"Yw=="}],
      "more":true,"count":"9"})");
  const RangeResult r = gateway::decodeRange(range);
  CHECK(r.revision == 12);
  REQUIRE(r.kvs.size() == 2);
  CHECK(r.kvs[0].key == "a");
  CHECK(r.kvs[0].value == "b");
  CHECK(r.kvs[0].version == 4);
  CHECK(r.kvs[1].value.empty());  // left out: empty
  CHECK(r.kvs[1].mod_revision == 0);
  CHECK(r.more);
  CHECK(r.count == 9);

  // "succeeded": false is left out.
  const TxnResult failed = gateway::decodeTxn(json::parse(R"({"header":{"revision":"5"},
      "responses":[{"response_range":{"header":{},"kvs":[{"key":"YQ==","value":"Mg=="}]}}]})"));
  CHECK_FALSE(failed.succeeded);
  REQUIRE(failed.responses.size() == 1);
  CHECK(failed.responses[0].kind == TxnOp::Kind::kRange);
  CHECK(failed.responses[0].range.kvs[0].value == "2");

  CHECK(gateway::decodeKeepAliveTtl(json::parse(R"({"result":{"ID":"7"}})")) == 0);  // gone
  CHECK(gateway::decodeKeepAliveTtl(json::parse(R"({"result":{"ID":"7","TTL":"5"}})")) == 5);
  const MemberStatus status = gateway::decodeMemberStatus(json::parse(
      R"({"header":{"member_id":"13668033151171901709","revision":"3"},"leader":"13668033151171901709","raftTerm":"2","version":"3.4.23"})"));
  CHECK(status.member_id == 13668033151171901709ull);
  CHECK(status.leader == status.member_id);
}

TEST_CASE("gateway replies: hostile fields throw GatewayFormatError naming the field") {
  using gateway::GatewayFormatError;
  CHECK_THROWS_WITH_AS(gateway::decodeRange(json::parse(R"({"header":{"revision":"12x"}})")),
                       doctest::Contains("'revision'"), GatewayFormatError);
  CHECK_THROWS_WITH_AS(gateway::decodeRange(json::parse(R"({"kvs":[{"key":"not base64!"}]})")),
                       doctest::Contains("'key' is not base64"), GatewayFormatError);
  CHECK_THROWS_AS(gateway::decodeRange(json::parse(R"({"kvs":{"key":"YQ=="}})")), GatewayFormatError);
  CHECK_THROWS_AS(gateway::decodeRange(json::parse(R"({"more":"yes"})")), GatewayFormatError);
  CHECK_THROWS_AS(gateway::decodeRange(json::parse(R"([1,2])")), GatewayFormatError);
  CHECK_THROWS_AS(gateway::decodeRange(json::parse(R"({"header":{"revision":1.5}})")), GatewayFormatError);
  CHECK_THROWS_AS(gateway::decodeTxn(json::parse(R"({"responses":[{"response_nothing":{}}]})")),
                  GatewayFormatError);
  CHECK_THROWS_AS(gateway::decodeLeaseGrant(json::parse(R"({"TTL":"5"})")), GatewayFormatError);
  CHECK_THROWS_WITH_AS(gateway::decodeWatchLine("{\"result\":"), doctest::Contains("not JSON"),
                       GatewayFormatError);
  CHECK_THROWS_AS(gateway::decodeWatchLine(R"({"result":{"events":[{"type":"MOVE","kv":{}}]}})"),
                  GatewayFormatError);
  CHECK_THROWS_AS(gateway::decodeWatchLine(R"({"other":1})"), GatewayFormatError);
}

TEST_CASE("watch stream lines: created, events, progress, compaction, errors") {
  using Kind = gateway::WatchMessage::Kind;
  CHECK(gateway::decodeWatchLine(R"({"result":{"header":{"revision":"9"},"created":true}})").kind ==
        Kind::kCreated);
  const auto events = gateway::decodeWatchLine(
      R"({"result":{"header":{"revision":"11"},"events":[{"kv":{"key":"YQ==","mod_revision":"10"}},
      {"type":"DELETE","kv":{"key":"Yg==","mod_revision":"11"}}]}})");
  CHECK(events.kind == Kind::kEvents);
  REQUIRE(events.events.size() == 2);
  CHECK(events.events[0].type == WatchEvent::Type::kPut);  // PUT is the default, left out
  CHECK(events.events[1].type == WatchEvent::Type::kDelete);
  CHECK(events.events[1].kv.mod_revision == 11);
  CHECK(gateway::decodeWatchLine(R"({"result":{"header":{"revision":"11"}}})").kind == Kind::kProgress);
  const auto compacted = gateway::decodeWatchLine(
      R"({"result":{"header":{},"canceled":true,"compact_revision":"100"}})");
  CHECK(compacted.kind == Kind::kCanceled);
  CHECK(compacted.compact_revision == 100);
  const auto error = gateway::decodeWatchLine(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}})");
  CHECK(error.kind == Kind::kError);
  CHECK(error.grpc_code == 14);
  CHECK(error.reason == "etcdserver: no leader");
}

TEST_CASE("gateway errors: the gRPC status of a unary error body, and its kind") {
  const auto status = gateway::decodeStatus(json::parse(
      R"({"error":"etcdserver: request is too large","message":"etcdserver: request is too large","code":3})"));
  CHECK(status.code == 3);
  CHECK(status.message == "etcdserver: request is too large");
  CHECK(errorKindOf(3, status.message) == EtcdErrorKind::kTooLarge);
  CHECK(errorKindOf(3, "etcdserver: too many operations in txn request") == EtcdErrorKind::kTooLarge);
  CHECK(errorKindOf(8, "grpc: received message larger than max (2200016 vs. 2097152)") ==
        EtcdErrorKind::kTooLarge);
  CHECK(errorKindOf(11, "etcdserver: mvcc: required revision has been compacted") ==
        EtcdErrorKind::kCompacted);
  CHECK(errorKindOf(11, "etcdserver: mvcc: required revision is a future revision") ==
        EtcdErrorKind::kInvalid);
  CHECK(errorKindOf(14, "etcdserver: no leader") == EtcdErrorKind::kUnavailable);
  CHECK(errorKindOf(5, "etcdserver: requested lease not found") == EtcdErrorKind::kNotFound);
  CHECK(errorKindOf(3, "invalid character 'g' looking for beginning of value") == EtcdErrorKind::kInvalid);

  const EtcdError error(EtcdErrorKind::kTooLarge, "http://198.18.3.11:2379", "etcdserver: request is too large", 3);
  CHECK(std::string(error.what()) ==
        "etcd http://198.18.3.11:2379: etcdserver: request is too large (gRPC code 3)");
  CHECK(std::string(EtcdError(EtcdErrorKind::kUnavailable, "", "no endpoint answered: x").what()) ==
        "etcd: no endpoint answered: x");
}
