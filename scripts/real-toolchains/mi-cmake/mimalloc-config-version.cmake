# Stand-in for the file the libmimalloc-sys crate leaves out of its copy of mimalloc (real25).
set(mi_version_major 2)
set(mi_version_minor 2)
set(mi_version_patch 4)
set(mi_version ${mi_version_major}.${mi_version_minor})
set(PACKAGE_VERSION ${mi_version})
