//! `pipeline-worker serve-stage`: runs one node of a stage of this crate
//! for the `pipeline` process that started it, which sends the node on
//! stdin (see `pipeline::stage_worker`). Not meant to be run by hand.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args != ["serve-stage"] {
        eprintln!("usage: pipeline-worker serve-stage (started by `pipeline`)");
        return ExitCode::from(2);
    }
    torch_stages::model::use_one_torch_thread();
    match pipeline::stage_worker::serve(&torch_stages::registry()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pipeline-worker: {e}");
            ExitCode::from(1)
        }
    }
}
