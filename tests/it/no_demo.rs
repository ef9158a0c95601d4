//! A build without the default `demo` feature (`cargo test --no-default-features`): no
//! stand-in in the product, so `demo` is not listed and, asked for, is refused with exit
//! status 2 and the way to get it.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_pages-zendesk-sync");

#[test]
fn demo_is_hidden_and_refused_with_the_way_to_get_it() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8(help.stdout).unwrap();
    let commands = &help[help.find("Commands:").expect("a command list")..];
    let commands = &commands[..commands.find("Options:").unwrap_or(commands.len())];
    assert!(commands.contains("\n  run "), "{commands}");
    assert!(!commands.contains("\n  demo "), "{commands}");

    let out = Command::new(BIN).arg("demo").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("this build has no `demo`")
            && stderr.contains("build with the default features"),
        "{stderr}"
    );
}
