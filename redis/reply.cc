#include "redis/reply.h"

namespace gridhub::redis {

Reply Reply::Integer(int64_t value) {
  Reply reply;
  reply.type_ = Type::kInteger;
  reply.integer_ = value;
  return reply;
}

Reply Reply::Array(std::vector<Reply> elements) {
  Reply reply;
  reply.type_ = Type::kArray;
  reply.elements_ = std::move(elements);
  return reply;
}

std::string Reply::ToString() const {
  switch (type_) {
    case Type::kNil:
      return "nil";
    case Type::kInteger:
      return std::to_string(integer_);
    case Type::kString:
      return "\"" + str_ + "\"";
    case Type::kStatus:
      return "+" + str_;
    case Type::kError:
      return "-" + str_;
    case Type::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < elements_.size(); ++i) {
        if (i > 0) out += ", ";
        out += elements_[i].ToString();
      }
      return out + "]";
    }
  }
  return "?";
}

}  // namespace gridhub::redis
