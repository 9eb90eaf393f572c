//! Starting a process with captured output, and a guard that stops it.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::{HarnessError, binary_path};

/// How often log files are re-read while waiting for a line.
const POLL: Duration = Duration::from_millis(25);

/// Builder for a child process whose stdout and stderr go to files.
#[derive(Debug, Clone)]
pub struct Spawn {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    removed_envs: Vec<OsString>,
    cwd: Option<PathBuf>,
    log_dir: Option<PathBuf>,
}

impl Spawn {
    /// A process running `program`.
    #[must_use]
    pub fn new(program: impl Into<PathBuf>) -> Self {
        let program = program.into();
        let name = program
            .file_name()
            .map_or_else(|| "child".to_owned(), |n| n.to_string_lossy().into_owned());
        Self {
            name,
            program,
            args: Vec::new(),
            envs: Vec::new(),
            removed_envs: Vec::new(),
            cwd: None,
            log_dir: None,
        }
    }

    /// A process running the workspace binary `name` (see [`binary_path`]).
    ///
    /// # Errors
    /// When the binary is not built.
    pub fn binary(name: &str) -> Result<Self, HarnessError> {
        Ok(Self::new(binary_path(name)?))
    }

    /// Names the process in errors and log file names (default: the file name).
    #[must_use]
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// Adds one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Removes an inherited environment variable.
    #[must_use]
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.removed_envs.push(key.into());
        self
    }

    /// Runs in `dir`.
    #[must_use]
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Writes `<name>.stdout` and `<name>.stderr` in `dir` (default: a
    /// temporary directory, kept and reported when the test panics).
    #[must_use]
    pub fn log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = Some(dir.into());
        self
    }

    /// Starts the process; stdin is closed.
    ///
    /// # Errors
    /// When the log files cannot be made or the program cannot start.
    pub fn start(self) -> Result<ChildGuard, HarnessError> {
        let io_err = |what| {
            let name = self.name.clone();
            move |source| HarnessError::Process { what, name, source }
        };
        let (temp, dir) = match &self.log_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix(&format!("sonde-{}-", self.name))
                    .tempdir()
                    .map_err(io_err("making a log directory for"))?;
                let dir = temp.path().to_path_buf();
                (Some(temp), dir)
            }
        };
        let stdout_path = dir.join(format!("{}.stdout", self.name));
        let stderr_path = dir.join(format!("{}.stderr", self.name));
        let stdout = File::create(&stdout_path).map_err(io_err("creating stdout of"))?;
        let stderr = File::create(&stderr_path).map_err(io_err("creating stderr of"))?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        for key in &self.removed_envs {
            command.env_remove(key);
        }
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        let child = command.spawn().map_err(io_err("starting"))?;
        Ok(ChildGuard {
            name: self.name,
            child,
            stdout_path,
            stderr_path,
            temp,
        })
    }
}

/// A running child; dropping it kills the process (SIGKILL, by its PID).
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    temp: Option<tempfile::TempDir>,
}

impl ChildGuard {
    /// The process name used in errors.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The PID (`None` once the process was reaped).
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Path of the captured stdout.
    #[must_use]
    pub fn stdout_path(&self) -> &Path {
        &self.stdout_path
    }

    /// Path of the captured stderr.
    #[must_use]
    pub fn stderr_path(&self) -> &Path {
        &self.stderr_path
    }

    /// Everything written to stdout so far.
    #[must_use]
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// Everything written to stderr so far.
    #[must_use]
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits until stdout contains `needle` and returns the first line that
    /// does.
    ///
    /// # Errors
    /// [`HarnessError::Exited`] when the process ends first,
    /// [`HarnessError::Deadline`] when `deadline` passes.
    pub async fn wait_for_stdout(
        &mut self,
        needle: &str,
        deadline: Duration,
    ) -> Result<String, HarnessError> {
        let what = format!("{needle:?} on stdout of {}", self.name);
        let waiting = async {
            loop {
                if let Some(line) = self.stdout().lines().find(|l| l.contains(needle)) {
                    return Ok(line.to_owned());
                }
                if let Some(status) = self.try_wait()? {
                    return Err(HarnessError::Exited {
                        name: self.name.clone(),
                        status,
                        what: what.clone(),
                    });
                }
                tokio::time::sleep(POLL).await;
            }
        };
        match tokio::time::timeout(deadline, waiting).await {
            Ok(result) => result,
            Err(_) => Err(HarnessError::Deadline {
                what,
                deadline,
                last: tail(&self.stderr()),
            }),
        }
    }

    /// Sends `signal` to the process.
    ///
    /// # Errors
    /// When the process is gone or the signal cannot be sent.
    pub fn signal(&self, signal: Signal) -> Result<(), HarnessError> {
        let failed = |source| HarnessError::Process {
            what: "signalling",
            name: self.name.clone(),
            source,
        };
        let not_running = || {
            failed(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not running",
            ))
        };
        let pid = self.pid().ok_or_else(not_running)?;
        let pid = i32::try_from(pid).map_err(|_| not_running())?;
        kill(Pid::from_raw(pid), signal).map_err(|errno| failed(std::io::Error::from(errno)))
    }

    /// Sends SIGTERM and waits up to `grace` for the exit. When the grace
    /// passes, the process is killed and an error returned, so a test sees
    /// a slow shutdown.
    ///
    /// # Errors
    /// [`HarnessError::Deadline`] when it had to be killed.
    pub async fn terminate(&mut self, grace: Duration) -> Result<ExitStatus, HarnessError> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        self.signal(Signal::SIGTERM)?;
        match self.wait(grace).await {
            Err(HarnessError::Deadline { .. }) => {
                self.kill().await;
                Err(HarnessError::Deadline {
                    what: format!("{} exiting after SIGTERM", self.name),
                    deadline: grace,
                    last: tail(&self.stderr()),
                })
            }
            other => other,
        }
    }

    /// Waits up to `deadline` for the process to exit.
    ///
    /// # Errors
    /// [`HarnessError::Deadline`] when it is still running.
    pub async fn wait(&mut self, deadline: Duration) -> Result<ExitStatus, HarnessError> {
        match tokio::time::timeout(deadline, self.child.wait()).await {
            Ok(status) => status.map_err(|source| HarnessError::Process {
                what: "waiting for",
                name: self.name.clone(),
                source,
            }),
            Err(_) => Err(HarnessError::Deadline {
                what: format!("{} exiting", self.name),
                deadline,
                last: tail(&self.stderr()),
            }),
        }
    }

    /// The exit status when the process has ended.
    ///
    /// # Errors
    /// When the status cannot be read.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, HarnessError> {
        self.child
            .try_wait()
            .map_err(|source| HarnessError::Process {
                what: "checking",
                name: self.name.clone(),
                source,
            })
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!(
                "--- {} stderr ({}) ---\n{}",
                self.name,
                self.stderr_path.display(),
                tail(&self.stderr())
            );
            // Keep the logs of a failed test for a look afterwards.
            if let Some(temp) = self.temp.take() {
                let _ = temp.keep();
            }
        }
    }
}

/// The last lines of `text`, for error messages.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
