#include "lora/tokenizer/spm_train.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "lora/tokenizer/spm_model_file.h"
#include "lora/tokenizer/tokenizer_error.h"

extern char** environ;

namespace fedlora::lora {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw TokenizerError("train_spm_vocab: " + what);
}

// A fresh private directory under the system temp dir, removed with its contents on exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "fedlora-spm-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      fail("cannot create a temporary directory: " + std::string(std::strerror(errno)));
    }
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);  // best effort; nothing useful to do on failure
  }
  const fs::path& path() const noexcept { return path_; }

 private:
  fs::path path_;
};

std::string format_double(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

void validate(const SpmTrainOptions& o) {
  if (o.input_files.empty() && o.input_text.empty()) {
    fail("no input: set input_files or input_text");
  }
  for (const auto& f : o.input_files) {
    std::error_code ec;
    if (!fs::is_regular_file(f, ec)) fail("input file '" + f.string() + "' does not exist or is not a file");
  }
  if (o.output_dir.empty()) fail("output_dir is empty; give the directory for the .model/.vocab files");
  if (o.model_prefix.empty()) fail("model_prefix is empty");
  for (const char c : o.model_prefix) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) fail("model_prefix '" + o.model_prefix + "' may contain only letters, digits, '_', '-', '.'");
  }
  if (o.vocab_size <= 259) {
    fail("vocab_size " + std::to_string(o.vocab_size) +
         " is too small: <unk>, <s>, </s> and the 256 byte pieces alone take 259");
  }
  if (!(o.character_coverage > 0.0 && o.character_coverage <= 1.0)) {
    fail("character_coverage " + format_double(o.character_coverage) + " must be in (0, 1]");
  }
  if (o.max_sentence_length <= 0) fail("max_sentence_length must be positive");
  if (o.num_threads <= 0) fail("num_threads must be positive");
  if (o.seed == std::numeric_limits<std::uint32_t>::max()) {
    fail("seed 4294967295 means 'seed from the clock' to spm_train; choose another seed");
  }
  if (o.spm_train_program.empty()) fail("spm_train_program is empty");
}

std::string tail_of_file(const fs::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_bytes) s = "..." + s.substr(s.size() - max_bytes);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Runs argv with stdin from /dev/null and stdout+stderr into `log`; returns the wait status.
int run(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  if (posix_spawn_file_actions_init(&actions) != 0) fail("posix_spawn_file_actions_init failed");
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err == ENOENT) {
    fail("'" + args[0] + "' was not found on PATH; install the Debian package `sentencepiece` "
         "(apt-get install sentencepiece), which provides spm_train");
  }
  if (err != 0) fail("cannot start '" + args[0] + "': " + std::strerror(err));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail("waitpid for '" + args[0] + "' failed: " + std::strerror(errno));
  }
  return status;
}

}  // namespace

std::vector<std::string> spm_train_arguments(const SpmTrainOptions& o, const std::string& input_list) {
  std::vector<std::string> a = {
      o.spm_train_program,
      "--input=" + input_list,
      "--input_format=text",
      "--model_prefix=" + (o.output_dir / o.model_prefix).string(),
      "--model_type=bpe",
      "--vocab_size=" + std::to_string(o.vocab_size),
      "--byte_fallback=true",
      "--normalization_rule_name=identity",
      "--remove_extra_whitespaces=false",
      "--add_dummy_prefix=true",
      "--split_digits=true",
      "--allow_whitespace_only_pieces=true",
      "--character_coverage=" + format_double(o.character_coverage),
      "--max_sentence_length=" + std::to_string(o.max_sentence_length),
      "--input_sentence_size=" + std::to_string(o.input_sentence_size),
      std::string("--shuffle_input_sentence=") + (o.input_sentence_size > 0 ? "true" : "false"),
      "--random_seed=" + std::to_string(o.seed),
      "--num_threads=" + std::to_string(o.num_threads),
      "--unk_id=0",
      "--bos_id=1",
      "--eos_id=2",
      "--pad_id=-1",
  };
  return a;
}

SpmTrainResult train_spm_vocab(const SpmTrainOptions& options) {
  validate(options);
  std::error_code ec;
  fs::create_directories(options.output_dir, ec);
  if (ec) fail("cannot create output_dir '" + options.output_dir.string() + "': " + ec.message());

  TempDir tmp;
  // spm_train splits --input at commas: pass paths directly unless they contain one.
  std::string input_list;
  std::vector<fs::path> to_copy;
  for (const auto& f : options.input_files) {
    if (f.string().find(',') != std::string::npos) {
      to_copy.push_back(f);
    } else {
      if (!input_list.empty()) input_list += ',';
      input_list += f.string();
    }
  }
  if (!options.input_text.empty() || !to_copy.empty()) {
    const fs::path staged = tmp.path() / "input.txt";
    std::ofstream out(staged, std::ios::binary);
    for (const auto& f : to_copy) {
      std::ifstream in(f, std::ios::binary);
      if (!in) fail("cannot read input file '" + f.string() + "'");
      out << in.rdbuf();
      out << '\n';  // a file without a final newline must not glue its last line to the next
    }
    out << options.input_text;
    out.close();
    if (!out) fail("cannot write the staged input '" + staged.string() + "'");
    if (!input_list.empty()) input_list += ',';
    input_list += staged.string();
  }

  const auto args = spm_train_arguments(options, input_list);
  const fs::path log = tmp.path() / "spm_train.log";
  const int status = run(args, log);
  if (WIFSIGNALED(status)) {
    fail("'" + args[0] + "' was killed by signal " + std::to_string(WTERMSIG(status)) +
         "; its output ended with:\n" + tail_of_file(log, 2000));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fail("'" + args[0] + "' exited with status " + std::to_string(WEXITSTATUS(status)) +
         "; its output ended with:\n" + tail_of_file(log, 2000));
  }

  SpmTrainResult result{
      load_spm_model(options.output_dir / (options.model_prefix + ".model")),
      options.output_dir / (options.model_prefix + ".model"),
      options.output_dir / (options.model_prefix + ".vocab"),
  };
  if (result.vocab.size() != options.vocab_size) {
    fail("spm_train wrote " + std::to_string(result.vocab.size()) + " pieces, expected " +
         std::to_string(options.vocab_size));
  }
  if (result.vocab.unk_id() != 0 || result.vocab.bos_id() != 1 || result.vocab.eos_id() != 2 ||
      result.vocab.pad_id() != kNoToken || !result.vocab.byte_fallback()) {
    fail("the model written by spm_train does not have the requested special ids / byte fallback");
  }
  return result;
}

}  // namespace fedlora::lora
