//! `save_weights` killed at random moments (SIGKILL, from a parent process) never leaves a file
//! that does not load, and what a killed save leaves behind is removed by the next save.
//!
//! The parent test runs this test binary again as a child that saves two networks in turn,
//! forever, and kills it 60 times.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use netdsl::prelude::*;
use rand::RngExt;

network! {
    /// The tutorial network: a 200 KB file, a few milliseconds a save.
    struct Mnist<784 => Dense(64, relu) => Dense(10, softmax)>;
}

const KILLS: usize = 60;
/// Where the child saves, given to it through the environment.
const TARGET: &str = "NETDSL_SAVE_KILLED_TARGET";

fn model(seed: u64) -> Mnist {
    Mnist::new(&mut StdRng::seed_from_u64(seed))
}

fn parameters(model: &mut Mnist) -> Vec<f32> {
    let mut grads = model.new_grads();
    let mut all = Vec::new();
    model.visit_parameters(&mut grads, &mut |p, _| all.extend_from_slice(p));
    all
}

/// The child: saves the networks of seeds 1 and 2 in turn until it is killed.
#[test]
#[ignore = "run by `saves_killed_at_random_leave_a_file_that_loads`"]
fn child_saves_forever() {
    let Ok(target) = std::env::var(TARGET) else {
        return;
    };
    let models = [model(1), model(2)];
    for turn in 0.. {
        models[turn % 2].save_weights(&target).unwrap();
    }
}

fn spawn_child(target: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_saves_forever", "--exact", "--ignored", "--quiet"])
        .env(TARGET, target)
        .spawn()
        .expect("the test binary runs again as the child")
}

/// Every file in `dir` but `target`.
fn others(dir: &Path, target: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != target)
        .collect()
}

#[test]
fn saves_killed_at_random_leave_a_file_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("mnist.safetensors");
    let (mut first, mut second) = (model(1), model(2));
    let versions = [parameters(&mut first), parameters(&mut second)];
    first.save_weights(&target).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut orphans_seen = 0;
    for kill in 0..KILLS {
        let mut child = spawn_child(&target);
        std::thread::sleep(Duration::from_millis(rng.random_range(20..120)));
        child.kill().unwrap();
        child.wait().unwrap();
        let mut loaded = model(3);
        loaded
            .load_weights(&target)
            .unwrap_or_else(|e| panic!("after kill {kill}: {e}"));
        let loaded = parameters(&mut loaded);
        assert!(
            versions.contains(&loaded),
            "after kill {kill}: the file holds neither version"
        );
        orphans_seen += others(dir.path(), &target).len();
    }
    // The next save removes whatever the killed ones left.
    first.save_weights(&target).unwrap();
    assert_eq!(others(dir.path(), &target), Vec::<PathBuf>::new());
    println!(
        "{KILLS} kills, {orphans_seen} temporary files left behind along the way, all removed"
    );
}
