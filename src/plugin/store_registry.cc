#include "src/plugin/store_registry.h"

#include <chrono>

#include "src/store/backend.h"

namespace bver::plugin {

namespace {

class StoreRegistryStorage final : public RegistryStorage {
 public:
  explicit StoreRegistryStorage(store::RecordTable& records) : records_(records) {}

  Result<std::optional<std::string>> Get(const std::string& key) override {
    BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> row, records_.GetRecord(kPluginRecordKind, key));
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
    return records_.PutRecord(row);
  }

  Result<bool> Delete(const std::string& key) override {
    return records_.DeleteRecord(kPluginRecordKind, key);
  }

  Result<std::vector<std::pair<std::string, std::string>>> List() override {
    std::vector<std::pair<std::string, std::string>> out;
    std::string after;
    for (;;) {
      BVER_ASSIGN_OR_RETURN(std::vector<store::RecordRow> page,
                            records_.ListRecords(kPluginRecordKind, after, kPage));
      for (store::RecordRow& r : page) out.emplace_back(r.key, std::move(r.value));
      if (page.size() < kPage) break;
      after = out.back().first;
    }
    return out;
  }

 private:
  static constexpr std::size_t kPage = 200;
  store::RecordTable& records_;
};

}  // namespace

std::unique_ptr<RegistryStorage> MakeStoreRegistryStorage(store::RecordTable& records) {
  return std::make_unique<StoreRegistryStorage>(records);
}

}  // namespace bver::plugin
