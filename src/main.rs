#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    nsw_gateway::cli::main()
}
