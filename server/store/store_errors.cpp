#include "server/store/store.hpp"

namespace lg::server {

namespace {
class StoreCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "labgate.store"; }
  std::string message(int ev) const override {
    switch (static_cast<StoreErrc>(ev)) {
      case StoreErrc::conflict: return "conflict";
      case StoreErrc::unknown_reference: return "unknown reference";
      case StoreErrc::not_found: return "not found";
      case StoreErrc::not_allowed: return "not allowed";
    }
    return "store error";
  }
};
}  // namespace

const std::error_category& store_category() {
  static const StoreCategory cat;
  return cat;
}

std::error_code make_error_code(StoreErrc e) { return {static_cast<int>(e), store_category()}; }

Error store_error(StoreErrc e, std::string reason) { return Error::from(make_error_code(e), std::move(reason)); }

bool is(const Error& e, StoreErrc code) { return e.code == make_error_code(code); }

}  // namespace lg::server
