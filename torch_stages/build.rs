//! Puts libtorch's directory on the rpath of every binary and test of the
//! package, so `pipeline-worker` runs without LD_LIBRARY_PATH. torch-sys knows the
//! directory (it exports it as DEP_TCH_LIBTORCH_LIB) but sets no rpath.
//! Shared by the `torch_stages` and `pipeline` packages (the engine's tests
//! run the study in-process).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
