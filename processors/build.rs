//! Builds `src/convert/jpeg/encode.c` against the libjpeg-turbo headers
//! that turbojpeg-sys installs with the library it builds (`links =
//! "turbojpeg"` hands their path to this script).

fn main() {
    let source = "src/convert/jpeg/encode.c";
    println!("cargo:rerun-if-changed={source}");
    println!("cargo:rerun-if-env-changed=DEP_TURBOJPEG_INCLUDE");
    let mut build = cc::Build::new();
    build.file(source).warnings(true).extra_warnings(true);
    if let Ok(paths) = std::env::var("DEP_TURBOJPEG_INCLUDE") {
        for path in paths.split(',').filter(|p| !p.is_empty()) {
            build.include(path);
        }
    }
    build.compile("imagegram_jpeg_encode");
}
