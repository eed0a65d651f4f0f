#include "src/plugin/store_registry.h"

#include <chrono>

#include "src/store/backend.h"

namespace bver::plugin {

namespace {

class StoreRegistryStorage final : public RegistryStorage {
 public:
  explicit StoreRegistryStorage(store::Backend& backend) : backend_(backend) {}

  Result<std::optional<std::string>> Get(const std::string& key) override {
    BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> row, backend_.GetRecord(kPluginRecordKind, key));
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(std::move(row->value));
  }

  Status Put(const std::string& key, const std::string& json_text) override {
    store::RecordRow row;
    row.kind = kPluginRecordKind;
    row.key = key;
    row.value = json_text;
    row.updated_at_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    return backend_.WriteTxn([&](store::Txn& txn) { return txn.PutRecord(row); });
  }

  Result<bool> Delete(const std::string& key) override {
    bool deleted = false;
    BVER_RETURN_IF_ERROR(backend_.WriteTxn([&](store::Txn& txn) -> Status {
      BVER_ASSIGN_OR_RETURN(deleted, txn.DeleteRecord(kPluginRecordKind, key));
      return Status::Ok();
    }));
    return deleted;
  }

  Result<std::vector<std::pair<std::string, std::string>>> List() override {
    std::vector<std::pair<std::string, std::string>> out;
    std::string after;
    for (;;) {
      BVER_ASSIGN_OR_RETURN(std::vector<store::RecordRow> page,
                            backend_.ListRecords(kPluginRecordKind, after, kPage));
      for (store::RecordRow& r : page) out.emplace_back(r.key, std::move(r.value));
      if (page.size() < kPage) break;
      after = out.back().first;
    }
    return out;
  }

 private:
  static constexpr std::size_t kPage = 200;
  store::Backend& backend_;
};

}  // namespace

std::unique_ptr<RegistryStorage> MakeStoreRegistryStorage(store::Backend& backend) {
  return std::make_unique<StoreRegistryStorage>(backend);
}

}  // namespace bver::plugin
