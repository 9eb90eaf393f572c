//! Every example journey validates: they are the language's showcase and
//! what the local fleet runs.

use std::path::Path;

#[test]
fn every_example_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let loaded = scenarios::load_dir(&dir).expect("examples directory is readable");
    assert!(
        loaded.len() >= 5,
        "expected at least five examples, found {}",
        loaded.len()
    );
    for result in loaded {
        if let Err(e) = result {
            panic!("{}", e.render(scenarios::diagnostic::Style::Plain));
        }
    }
}
