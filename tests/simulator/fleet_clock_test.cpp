// Device profiles, availability models, the simulated clock's round cut, and the training
// FLOP count, each against hand-computed values or an independent statistical truth.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "lora/model/train_flops.h"
#include "simulator/config/fleet_section.h"
#include "simulator/fleet/availability.h"
#include "simulator/fleet/device_profiles.h"
#include "simulator/run/sim_clock.h"

namespace fedlora::sim {
namespace {
namespace fs = std::filesystem;

FleetSection three_classes() {
  FleetSection f;
  f.classes = {DeviceClass{"low", 0.2, 5, 512, 10, 2, 100}, DeviceClass{"mid", 0.5, 20, 2048, 50, 10, 50},
               DeviceClass{"high", 0.3, 80, 8192, 200, 50, 20}};
  f.utc_offsets = {-8, 0, 9};
  return f;
}

// Class counts are Binomial(n, share): each within 5 standard deviations.
TEST(DeviceProfiles, ClassesFollowTheirSharesAndZonesAreUniform) {
  const auto f = three_classes();
  const std::size_t n = 100000;
  const DeviceProfiles p(f, n, 42);
  std::vector<double> classes(3, 0), zones(3, 0);
  for (std::size_t d = 0; d < n; ++d) {
    classes[p.class_index(d)] += 1;
    zones[p.utc_offset(d) == -8 ? 0 : p.utc_offset(d) == 0 ? 1 : 2] += 1;
  }
  for (std::size_t c = 0; c < 3; ++c) {
    const double share = f.classes[c].share, sd = std::sqrt(n * share * (1 - share));
    EXPECT_NEAR(classes[c], n * share, 5 * sd) << f.classes[c].name;
    EXPECT_NEAR(zones[c], n / 3.0, 5 * std::sqrt(n * (1 / 3.0) * (2 / 3.0)));
  }
  const DeviceProfiles again(f, n, 42), other(f, n, 43);
  int same = 0, differ = 0;
  for (std::size_t d = 0; d < 1000; ++d) {
    same += p.class_index(d) == again.class_index(d);
    differ += p.class_index(d) != other.class_index(d);
  }
  EXPECT_EQ(same, 1000);
  EXPECT_GT(differ, 300);  // another seed, another fleet (P[same class] = 0.38 per device)
}

TEST(FleetSection, RefusesBadValuesByName) {
  auto expect_bad = [](FleetSection f, const std::string& needle) {
    try {
      f.validate();
      FAIL() << "accepted: " << needle;
    } catch (const config::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto f = three_classes();
  f.classes[0].share = 0.3;
  expect_bad(f, "shares sum to");
  f = three_classes();
  f.classes[1].gflops = 0;
  expect_bad(f, "fleet.classes[1].gflops");
  f = three_classes();
  f.eligible_by_hour[5] = 1.5;
  expect_bad(f, "fleet.eligible_by_hour[5]");
  f = three_classes();
  f.availability = Availability::trace;
  expect_bad(f, "needs fleet.trace");
  f = three_classes();
  f.classes[2].name = "low";
  expect_bad(f, "used twice");
}

TEST(FleetSection, ReadsClassesAsInlineTables) {
  auto r = config::TomlReader::from_string(R"(
[fleet]
classes = [ { name = "a", share = 0.25, gflops = 10, up_mbps = 3 },
            { name = "b", share = 0.75, gflops = 40, latency_ms = 10 } ]
availability = "diurnal"
utc_offsets = [-5, 1]
round_deadline_s = 90
)", "t.toml");
  const auto f = read_fleet_section(r);
  r.reject_unknown_keys();
  ASSERT_EQ(f.classes.size(), 2u);
  EXPECT_EQ(f.classes[0].name, "a");
  EXPECT_EQ(f.classes[0].up_mbps, 3);
  EXPECT_EQ(f.classes[0].down_mbps, DeviceClass{}.down_mbps);  // default
  EXPECT_EQ(f.classes[1].latency_ms, 10);
  EXPECT_EQ(f.availability, Availability::diurnal);
  EXPECT_EQ(f.round_deadline_s, 90);
  auto typo = config::TomlReader::from_string("[fleet]\nclasses = [ { name = \"a\", gflop = 3 } ]\n", "t.toml");
  EXPECT_THROW(read_fleet_section(typo), config::ConfigError);
}

// Diurnal model with a constant start probability p per hour and Exp(mean m) sessions
// truncated at 24 h: at t = the middle of an hour, a session that started in the hour j
// hours back at u ∈ [0, 1) has age a = j + 0.5 − u, and covers t with probability
// P(L > a) = exp(−a/m) for a < 24. So P(eligible) = 1 − Π_j (1 − p·∫ P(L > a) du),
// integrated numerically here, against the fraction of 20,000 devices eligible.
TEST(Availability, DiurnalEligibleShareMatchesTheSessionModel) {
  FleetSection f;
  f.availability = Availability::diurnal;
  f.eligible_by_hour.fill(0.1);
  f.session_minutes = 90;
  const std::size_t n = 20000;
  const DeviceProfiles p(f, n, 5);
  const auto model = make_availability(f, p, 9);
  const double m = 1.5, pr = 0.1;
  double none = 1;
  for (int j = 0; j <= 24; ++j) {
    double integral = 0;
    const int steps = 2000;
    for (int s = 0; s < steps; ++s) {
      const double u = (s + 0.5) / steps, a = j + 0.5 - u;
      if (a >= 0 && a < 24) integral += std::exp(-a / m) / steps;
    }
    none *= 1 - pr * integral;
  }
  const double expected = 1 - none;
  const double t = 50 * 3600.0 + 1800.0;
  int eligible = 0;
  for (std::size_t d = 0; d < n; ++d) {
    const auto until = model->available_until(d, t);
    if (until) {
      ++eligible;
      EXPECT_GT(*until, t);
      EXPECT_TRUE(model->available_until(d, *until - 1e-3).has_value());
    }
  }
  EXPECT_NEAR(eligible / double(n), expected, 5 * std::sqrt(expected * (1 - expected) / n)) << expected;
}

TEST(Availability, DefaultDiurnalProfileIsANightProfileInLocalTime) {
  FleetSection f;
  f.availability = Availability::diurnal;
  f.utc_offsets = {9};  // every device 9 h east of UTC
  const DeviceProfiles p(f, 5000, 1);
  const auto model = make_availability(f, p, 2);
  auto share_at_utc_hour = [&](double h) {
    int k = 0;
    for (std::size_t d = 0; d < 5000; ++d) k += model->available_until(d, (48 + h) * 3600).has_value();
    return k / 5000.0;
  };
  // 03:00 local is 18:00 UTC the day before; 14:00 local is 05:00 UTC.
  EXPECT_GT(share_at_utc_hour(18), 3 * share_at_utc_hour(5));
}

TEST(Availability, TraceIntervalsAndErrors) {
  const fs::path dir = fs::temp_directory_path() / ("fedlora_trace_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "t.csv") << text;
    return dir / "t.csv";
  };
  FleetSection f;
  f.availability = Availability::trace;
  f.trace = write("device_id,available_from_s,available_to_s\n0,10,20\n0,15,30\n2,100,200\n");
  const DeviceProfiles p(f, 3, 1);
  const auto m = make_availability(f, p, 1);
  EXPECT_FALSE(m->available_until(0, 9.9));
  EXPECT_DOUBLE_EQ(*m->available_until(0, 10), 30);  // overlapping rows merge
  EXPECT_DOUBLE_EQ(*m->available_until(0, 29), 30);
  EXPECT_FALSE(m->available_until(0, 30));
  EXPECT_FALSE(m->available_until(1, 15));  // absent from the trace
  EXPECT_DOUBLE_EQ(*m->available_until(2, 150), 200);
  auto error_of = [&](const std::string& text) {
    try {
      read_availability_trace(write(text), 3);
    } catch (const config::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("0,1,2\n7,1,2\n").find(":2: device 7 is not in the population of 3"), std::string::npos);
  EXPECT_NE(error_of("0,5,5\n").find("0 <= available_from_s < available_to_s"), std::string::npos);
  EXPECT_NE(error_of("0,1,2,3\n").find("more than 3 fields"), std::string::npos);
  EXPECT_NE(error_of("0,1,2\nx,1,2\n").find(":2:"), std::string::npos);
  fs::remove_all(dir);
}

TEST(SimClock, TransferAndComputeSeconds) {
  EXPECT_DOUBLE_EQ(transfer_seconds(1e6, 8, 50), 0.05 + 1.0);  // 8 Mbit at 8 Mbit/s + 50 ms
  EXPECT_DOUBLE_EQ(compute_seconds(3e9, 1.5), 2.0);
}

// Five members, target 3, deadline 10 s:
//   0 reports at 4, 1 at 12 (after the deadline), 2 at 3, 3 leaves at 5 before its report
//   at 6, 4 at 7. Accepted in arrival order: 2 (3 s), 0 (4 s), 4 (7 s): the third closes
//   the phase at 7 s. 1 is a straggler (compute 9 s wasted); 3 left after 5 − 1 = 4 s of
//   its 5 s of compute.
TEST(SimClock, CutTakesTheFirstReportsBeforeTheDeadline) {
  std::vector<MemberTime> m(6);
  m[0] = {4, kNever, 1, 2};
  m[1] = {12, kNever, 1, 9};
  m[2] = {3, kNever, 1, 1};
  m[3] = {6, 5, 1, 5};
  m[4] = {7, kNever, 1, 5};
  m[5] = {};  // never reports
  const auto cut = cut_round(m, 3, 10);
  EXPECT_EQ(cut.fate, (std::vector<MemberFate>{MemberFate::reported, MemberFate::straggler, MemberFate::reported,
                                                MemberFate::left, MemberFate::reported, MemberFate::silent}));
  EXPECT_DOUBLE_EQ(cut.close_s, 7);
  EXPECT_EQ(cut.reported, 3);
  EXPECT_EQ(cut.stragglers, 1);
  EXPECT_EQ(cut.left, 1);
  EXPECT_DOUBLE_EQ(cut.wasted_compute_s, 9 + 4);
  // Target 4: only three arrive by the deadline, so the phase closes at the deadline.
  const auto late = cut_round(m, 4, 10);
  EXPECT_DOUBLE_EQ(late.close_s, 10);
  EXPECT_EQ(late.reported, 3);
  // No deadline: 1 reports too, and the phase closes with the 4th report at 12 s.
  const auto open = cut_round(m, 4, 0);
  EXPECT_EQ(open.reported, 4);
  EXPECT_DOUBLE_EQ(open.close_s, 12);
  // Ties go to the lower member index.
  std::vector<MemberTime> tie(2);
  tie[0] = {5, kNever, 0, 1};
  tie[1] = {5, kNever, 0, 1};
  EXPECT_EQ(cut_round(tie, 1, 0).fate[0], MemberFate::reported);
  EXPECT_THROW(cut_round(tie, 0, 0), std::invalid_argument);
}

// The default base (dim 256, 4 layers, 8/4 heads, FFN 768, vocab 4096, T = 128), by hand:
// P = 4·(256·256 + 2·256·128 + 256·256 + 3·256·768) = 3,145,728; V·D = 1,048,576;
// P₀ = 256·256 + 2·256·128 = 131,072; E(128) = 32·(32+64+96+128) = 10,240, so attention is
// 12·256·4·10,240/128 = 983,040 per token.
//   all 7 adapted, r = 8: S = 4·(512 + 384 + 384 + 512 + 3·1024) = 19,456
//     per token 4P + 4VD − 2P₀ + 4rS + att = 18,120,704; merges 2r(2P − P₀) = 98,566,144
//   q and v adapted: S = 4·(512 + 384) = 3,584, P_a = 393,216, P₀ₐ = 98,304
//     per token 12,582,912 + 4,194,304 − 262,144 + 114,688 + 983,040 = 17,612,800
//     merges 16·393,216 + 16·(393,216 − 98,304) = 11,010,048
//   checkpointing adds 2P + att/3 = 6,619,136 per token and 2r·P_a to the merges.
TEST(TrainFlops, HandComputedDefaultShape) {
  lora::LlamaConfig c;  // the defaults are the embedded base's shape
  ASSERT_EQ(c.dim, 256);
  ASSERT_EQ(c.n_layers, 4);
  ASSERT_EQ(c.ffn_dim, 768);
  const std::vector<lora::TargetModule> all(std::begin(lora::kAllTargetModules), std::end(lora::kAllTargetModules));
  EXPECT_DOUBLE_EQ(lora::train_flop_per_token(c, all, 8, 128, 1024, false), 18120704.0 + 98566144.0 / 1024);
  const std::vector<lora::TargetModule> qv{lora::TargetModule::q, lora::TargetModule::v};
  EXPECT_DOUBLE_EQ(lora::train_flop_per_token(c, qv, 8, 128, 1024, false), 17612800.0 + 11010048.0 / 1024);
  EXPECT_DOUBLE_EQ(lora::train_flop_per_token(c, qv, 8, 128, 1024, true),
                   17612800.0 + 6619136.0 + (11010048.0 + 16 * 393216.0) / 1024);
  EXPECT_THROW(lora::train_flop_per_token(c, qv, 8, 129, 1024, false), std::invalid_argument);
  EXPECT_THROW(lora::train_flop_per_token(c, qv, 0, 128, 1024, false), std::invalid_argument);
}

}  // namespace
}  // namespace fedlora::sim
