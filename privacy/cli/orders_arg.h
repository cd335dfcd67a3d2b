// Parsing of the CLI's --orders list.
#pragma once

#include <string_view>
#include <vector>

namespace fedlora::privacy::cli {

/// Parses a comma-separated list of RDP orders, e.g. "1.5,2,2.5,32,inf". Whitespace
/// around items is ignored; "inf" means α = ∞. Throws InvalidPrivacyParameter naming the
/// offending item if an item is empty, not a number, or not a valid order (> 1).
std::vector<double> parse_orders(std::string_view list);

}  // namespace fedlora::privacy::cli
