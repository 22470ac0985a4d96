//! `bgm_models::heap` as the app uses it: called first thing in `main`, before any other thread
//! (so this test has its own `main`: under the test harness, other tests' threads would already
//! have arenas of their own), then large buffers filled on a worker thread, as the stages do.
//! What it saves is page faults, so page faults are what it counts.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn main() {
    bgm_models::heap::reuse_large_allocations();
    std::thread::spawn(reuse_then_release)
        .join()
        .expect("the worker thread's checks");
    println!("test heap ... ok: large buffers are reused, and released on request");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main() {
    println!("heap: the settings are glibc's; other allocators keep their own policy");
}

/// Minor page faults of the calling thread so far.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn page_faults() -> i64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let status = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(status, 0, "getrusage");
    usage.ru_minflt
}

/// Page faults taken to allocate and fill a 100 MB buffer.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn faults_to_fill() -> i64 {
    let before = page_faults();
    let buffer = std::hint::black_box(vec![1u8; 100 << 20]);
    let faults = page_faults() - before;
    drop(buffer);
    faults
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn reuse_then_release() {
    // 100 MB is 25,600 pages of 4 KiB (fewer with huge pages).
    let first = faults_to_fill();
    let again = faults_to_fill();
    assert!(
        again * 10 < first,
        "a freed buffer should be reused without new pages: {first} page faults the first time, \
         {again} the second"
    );
    bgm_models::heap::release_free_memory();
    let after_release = faults_to_fill();
    assert!(
        after_release * 2 > first,
        "released memory should be gone: {first} page faults the first time, {after_release} \
         after releasing"
    );
    println!(
        "page faults to fill 100 MB: {first} fresh, {again} reused, {after_release} after release"
    );
}
