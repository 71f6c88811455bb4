#![forbid(unsafe_code)]

// Messages are parsed on the runtime's threads and stored on the writer's: mimalloc frees a
// buffer from another thread without the lock contention of the system allocator's arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    nsw_gateway::cli::main()
}
