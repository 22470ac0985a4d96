//! Progress bars for long commands, drawn only on a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar from 0 to 1000 (‰) on a terminal; hidden when output is piped or logged.
pub(crate) fn bar(label: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {percent}% eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(label);
    bar
}

/// A progress callback that moves `bar`.
pub(crate) fn follow(bar: &ProgressBar) -> impl FnMut(f64) + Send + '_ {
    move |fraction| bar.set_position((fraction * 1000.0) as u64)
}
