fn main() -> std::process::ExitCode {
    repere::cli::main()
}
