//! What the CLI's end-to-end tests share: the strict emulator on a loopback port, and a
//! scratch directory removed when the test ends.

use std::path::PathBuf;

use amazon_emulator::{Config, Emulator, Running};

/// A running emulator and a scratch directory, for one test.
pub(crate) struct Amazon {
    _runtime: tokio::runtime::Runtime,
    pub(crate) running: Running,
    pub(crate) dir: PathBuf,
}

impl Amazon {
    /// The emulator with `config`, and `$TMP/matchkey-{test}-{pid}`.
    pub(crate) fn start_with(test: &str, config: Config) -> Amazon {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let running = runtime
            .block_on(Emulator::new(config).unwrap().quiet().spawn())
            .unwrap();
        let dir = std::env::temp_dir().join(format!("matchkey-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Amazon {
            _runtime: runtime,
            running,
            dir,
        }
    }

    /// The emulator's base URL.
    pub(crate) fn base(&self) -> &str {
        &self.running.base_url
    }
}

impl Drop for Amazon {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
