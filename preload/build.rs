//! Links libhakmem.so with preload/startup.ld: the functions a short program runs, together at
//! the head of the text (the script's comment says why).

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=startup.ld");
    // `--cfg hakmem_no_entry_pin` (cargo passes a RUSTFLAGS cfg to build scripts as CARGO_CFG_*):
    // link with the script less its ENTRY_PIN line, so `free` and `malloc` land wherever the
    // code above them ends.
    if std::env::var_os("CARGO_CFG_HAKMEM_NO_ENTRY_PIN").is_some() {
        let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
        let script = std::fs::read_to_string(format!("{dir}/startup.ld")).expect("startup.ld");
        let unpinned: String = script
            .lines()
            .filter(|l| !l.contains("/* ENTRY_PIN */"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(format!("{out}/startup.ld"), unpinned).expect("OUT_DIR is writable");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-T,{out}/startup.ld");
        return;
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,-T,{dir}/startup.ld");
}
