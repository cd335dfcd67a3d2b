#include "simulator/report/plot_runs.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace fedlora::sim {
namespace {

std::optional<fs::path> find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return std::nullopt;
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    const fs::path p = fs::path(dir) / program;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return std::nullopt;
}

// gnuplot string literal: double quotes and backslashes would end or escape it.
std::string quoted(std::string s) {
  for (auto& c : s)
    if (c == '"' || c == '\\') c = '\'';
  return "\"" + s + "\"";
}

}  // namespace

RunCurve read_run_curve(const fs::path& run_dir) {
  const fs::path file = run_dir / "metrics.jsonl";
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot read (is " + run_dir.string() + " a run folder?)");
  RunCurve c;
  c.label = run_dir.filename().empty() ? run_dir.parent_path().filename().string() : run_dir.filename().string();
  int line_no = 0;
  double bytes_up = 0, wall_s = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      throw std::runtime_error(file.string() + ":" + std::to_string(line_no) + ": not a JSON object");
    if (j.contains("bytes_up") && j["bytes_up"].is_number()) bytes_up += j["bytes_up"].get<double>();
    if (j.contains("wall_s") && j["wall_s"].is_number()) wall_s += j["wall_s"].get<double>();
    if (!j.contains("eval")) continue;
    const auto& e = j["eval"];
    if (!j.contains("round") || !j["round"].is_number() || !e.contains("accuracy") || !e["accuracy"].is_number() ||
        !e.contains("loss") || !e["loss"].is_number())
      throw std::runtime_error(file.string() + ":" + std::to_string(line_no) + ": eval row without round, accuracy or loss");
    c.round.push_back(j["round"].get<double>());
    c.accuracy.push_back(e["accuracy"].get<double>());
    c.loss.push_back(e["loss"].get<double>());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    auto number = [&](const nlohmann::json& o, const char* k) { return o.contains(k) && o[k].is_number() ? o[k].get<double>() : nan; };
    c.perplexity.push_back(number(e, "perplexity"));
    const bool words = e.contains("next_word") && e["next_word"].is_object();
    c.next_word_top1.push_back(words ? number(e["next_word"], "top1") : nan);
    c.next_word_top3.push_back(words ? number(e["next_word"], "top3") : nan);
    c.bytes_up.push_back(bytes_up);
    c.wall_s.push_back(wall_s);
    c.sim_time_s.push_back(number(j, "sim_time_s"));
  }
  if (c.round.empty()) throw std::runtime_error(file.string() + ": no evaluated round to plot");
  return c;
}

PlotOutcome plot_runs(const std::vector<fs::path>& runs, const fs::path& out, PlotAxis x) {
  if (runs.empty()) throw std::runtime_error("plot: no run given");
  std::vector<RunCurve> curves;
  for (const auto& r : runs) curves.push_back(read_run_curve(r));
  if (x == PlotAxis::sim_minutes)
    for (auto& c : curves) {
      if (!c.sim_time_s.empty()) c.sim_time_s.front() = std::isnan(c.sim_time_s.front()) ? 0.0 : c.sim_time_s.front();  // round 0
      for (double t : c.sim_time_s)
        if (std::isnan(t)) throw std::runtime_error("plot: " + c.label + " has an evaluated row without sim_time_s");
    }
  const auto gnuplot = find_on_path("gnuplot");
  if (!gnuplot)
    return {false, "gnuplot is not installed (Debian package gnuplot-nox): no plot drawn"};

  const fs::path work = fs::temp_directory_path() / ("fedlora_plot_" + std::to_string(::getpid()) + "_" +
                                                     std::to_string(std::random_device{}()));
  fs::create_directories(work);
  std::ostringstream plot_acc, plot_loss;
  for (size_t i = 0; i < curves.size(); ++i) {
    const fs::path data = work / ("run" + std::to_string(i) + ".dat");
    std::ofstream d(data);
    d.precision(10);
    for (size_t k = 0; k < curves[i].round.size(); ++k)
      d << (x == PlotAxis::round ? curves[i].round[k] : curves[i].sim_time_s[k] / 60.0) << " " << curves[i].accuracy[k]
        << " " << curves[i].loss[k] << "\n";
    const std::string sep = i ? ", " : "";
    plot_acc << sep << quoted(data.string()) << " using 1:2 with linespoints title " << quoted(curves[i].label);
    plot_loss << sep << quoted(data.string()) << " using 1:3 with linespoints title " << quoted(curves[i].label);
  }
  const fs::path tmp_png = work / "plot.png";
  std::ofstream(work / "plot.gp") << "set terminal pngcairo size 1200,480 font \"sans,10\"\n"
                                  << "set termoption noenhanced\n"  // run names keep their underscores
                                  << "set output " << quoted(tmp_png.string()) << "\n"
                                  << "set multiplot layout 1,2\nset grid\nset key bottom right\n"
                                  << "set xlabel \"" << (x == PlotAxis::round ? "round" : "simulated minutes")
                                  << "\"\nset ylabel \"held-out next-token accuracy\"\n"
                                  << "plot " << plot_acc.str() << "\n"
                                  << "set key top right\nset ylabel \"held-out loss (nats/token)\"\n"
                                  << "plot " << plot_loss.str() << "\nunset multiplot\n";
  const std::string script = (work / "plot.gp").string(), log = (work / "gnuplot.log").string();
  const pid_t pid = fork();
  if (pid == 0) {
    if (std::freopen(log.c_str(), "w", stderr) == nullptr) ::_exit(126);
    ::execl(gnuplot->c_str(), "gnuplot", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream lf(log);
  const std::string gnuplot_log((std::istreambuf_iterator<char>(lf)), {});
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !fs::exists(tmp_png)) {
    fs::remove_all(work);
    throw std::runtime_error("gnuplot failed: " + gnuplot_log);
  }
  // Copied into place only once complete.
  fs::copy_file(tmp_png, out.string() + ".tmp", fs::copy_options::overwrite_existing);
  fs::rename(out.string() + ".tmp", out);
  fs::remove_all(work);
  return {true, "wrote " + out.string() + " (" + std::to_string(curves.size()) + " runs)"};
}

}  // namespace fedlora::sim
