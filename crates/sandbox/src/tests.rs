//! The sandbox's own proofs: a view shows nothing else, and the limits hold.

use super::*;

fn confinement() -> Option<Confinement> {
    match Confinement::detect() {
        Ok(c) => Some(c),
        // The sandbox is Linux's: CI elsewhere has none to prove.
        Err(why) if std::env::var_os("CI").is_none() || !cfg!(target_os = "linux") => {
            eprintln!("skipped: {why}");
            None
        }
        Err(why) => panic!("CI needs the sandbox: {why}"),
    }
}

fn sh(c: &Confinement, script: &str, view: &View) -> (bool, String) {
    let out = c
        .command(Path::new("/bin/sh"), &["-c".into(), script.into()], view)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Only what the view lists exists; the grader's environment, its files and its processes
/// do not.
#[test]
fn a_sandbox_shows_only_its_view() {
    let Some(c) = confinement() else { return };
    let dir = std::env::temp_dir().join(format!("sandbox-view-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("shown")).unwrap();
    std::fs::create_dir_all(dir.join("written")).unwrap();
    std::fs::write(dir.join("secret"), "hunter2").unwrap();
    std::fs::write(dir.join("shown/file"), "visible").unwrap();
    let view = View {
        read_only: vec![dir.join("shown")],
        writable: vec![dir.join("written")],
        cwd: dir.join("written"),
        env: vec![("SHOWN".into(), "yes".into())],
    };
    // SAFETY: a variable only this test reads, through the sandbox.
    unsafe { std::env::set_var("SANDBOX_TEST_SECRET", "hunter2") };
    let script = format!(
        "cat {0}/shown/file; id -u; echo $SHOWN; env; cat {0}/secret; cat /proc/1/environ; \
         ls /root /home; cat /proc/1/cmdline; echo x > {0}/shown/new; echo ok > {0}/written/out",
        dir.display()
    );
    let (_, out) = sh(&c, &script, &view);
    assert!(out.contains("visible"), "{out}");
    assert!(out.contains("65534"), "{out}");
    assert!(out.contains("yes"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
    assert!(!out.contains("SANDBOX_TEST_SECRET"), "{out}");
    assert!(!dir.join("shown/new").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("written/out")).unwrap(),
        "ok\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The limits hold inside (a file is cut at the size limit), and there is no network.
#[test]
fn limits_and_no_network_hold_inside() {
    let Some(mut c) = confinement() else { return };
    c.limits.file_bytes = 1 << 20;
    let (_, out) = sh(
        &c,
        "head -c 2000000 /dev/zero > /tmp/big; stat -c 'size %s' /tmp/big; \
         echo \"interfaces $(tail -n +3 /proc/net/dev | wc -l)\"",
        &View::default(),
    );
    // Cut at the file size limit; only the loopback interface.
    assert!(out.contains("size 1048576"), "{out}");
    assert!(out.contains("interfaces 1"), "{out}");
}

/// Off Linux there is no bubblewrap to find: the error says the sandbox needs Linux, which is
/// what a refused `--hidden` and an unverified tracing program then tell their user.
#[cfg(not(target_os = "linux"))]
#[test]
fn off_linux_the_sandbox_says_it_needs_linux() {
    let why = Confinement::detect().unwrap_err();
    assert!(why.contains("needs Linux"), "{why}");
    assert!(why.contains(std::env::consts::OS), "{why}");
}
