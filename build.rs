//! Build script: one probe of the compiler's version.
//!
//! `hakmem_asm_goto`: rustc 1.87 or later, whose `asm!` takes label operands (`asm goto`), so
//! `config::ROOM_DEC_ASM` can be on (the free push's `dec; js`, src/front/tls_sll.rs). The
//! crate's rust-version stays 1.85: older compilers build the Relaxed load and store instead.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| {
            // "rustc 1.95.0 (…)": the second dot-separated field of the second word.
            let ver = v.split_whitespace().nth(1)?.to_owned();
            let mut parts = ver.split('.');
            (parts.next()? == "1").then_some(())?;
            parts.next()?.parse::<u32>().ok()
        });
    if minor.is_some_and(|m| m >= 87) {
        println!("cargo:rustc-cfg=hakmem_asm_goto");
    }
}
