//! The workloads with hakmem as global allocator. Which configuration of hakmem this binary
//! holds is chosen by the bench crate's features (they forward to hakmem's): `hakmem-default`
//! (hakmem's default features), or `header-mode` (the same without `headerless`, built by the
//! runner into its own target directory with `--no-default-features --features header-mode`).
//! The name it reports comes from hakmem's own constants, so a mix-up cannot go unnoticed.
#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

fn main() {
    use hakmem::config as c;
    let name = if c::HEADERLESS {
        "hakmem"
    } else {
        "hakmem-header"
    };
    let on = [
        (c::HEADERLESS, "headerless"),
        (c::TLS_HINT, "tls-hint"),
        (c::ADOPT, "adopt"),
        (c::FORCE_NOTIFY, "force-notify"),
        (c::MEDIUM, "medium"),
        (c::STATS, "stats"),
        (c::PROFILE, "profile"),
        (c::CHECKED, "checked"),
    ];
    let config: Vec<&str> = on.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
    hakmem_bench::wl_main::wl_main_with(name, &config.join("+"))
}
