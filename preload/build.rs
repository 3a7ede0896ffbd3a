//! Links libhakmem.so with preload/startup.ld: the functions a short program runs, together at
//! the head of the text (the script's comment says why).

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=startup.ld");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-T,{dir}/startup.ld");
}
