#include "privacy/cli/orders_arg.h"

#include <cerrno>
#include <cstdlib>
#include <string>

#include "privacy/accounting/rdp.h"
#include "privacy/errors.h"

namespace fedlora::privacy::cli {

std::vector<double> parse_orders(std::string_view list) {
  std::vector<double> orders;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = list.find(',', start);
    const std::size_t end = comma == std::string_view::npos ? list.size() : comma;
    std::string item(list.substr(start, end - start));
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    item = first == std::string::npos ? std::string() : item.substr(first, last - first + 1);
    if (item.empty()) {
      throw InvalidPrivacyParameter("--orders: empty item in '" + std::string(list) +
                                    "'; give numbers separated by commas, e.g. 2,4,8,inf");
    }
    char* stop = nullptr;
    errno = 0;
    const double value = std::strtod(item.c_str(), &stop);
    if (stop != item.c_str() + item.size() || errno == ERANGE || std::string(item) == "nan") {
      throw InvalidPrivacyParameter("--orders: '" + item + "' is not a number");
    }
    orders.push_back(value);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  validate_orders(orders);
  return orders;
}

}  // namespace fedlora::privacy::cli
