//! `probe`: see `probe --help`.

fn main() -> std::process::ExitCode {
    probe::cli::main()
}
