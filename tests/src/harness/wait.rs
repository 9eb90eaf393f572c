//! Free ports and waiting for a server to answer.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::HarnessError;
use crate::client::{TestClient, TestResponse};

/// Pause between two readiness attempts.
const RETRY: Duration = Duration::from_millis(50);

/// A loopback port that was free a moment ago, for a child's `--listen`.
///
/// # Errors
/// When binding a probe socket fails.
pub fn free_port() -> std::io::Result<u16> {
    crate::target::free_port_refused()
}

/// `127.0.0.1:<free port>`.
///
/// # Errors
/// When binding a probe socket fails.
pub fn free_addr() -> std::io::Result<SocketAddr> {
    Ok(SocketAddr::from(([127, 0, 0, 1], free_port()?)))
}

/// Retries `GET url` (trusting the test CA) until it answers 2xx, and
/// returns that response.
///
/// # Errors
/// [`HarnessError::Deadline`] with the last status or error seen.
pub async fn wait_for_http(url: &str, deadline: Duration) -> Result<TestResponse, HarnessError> {
    let client = TestClient::new().timeout(Duration::from_secs(1));
    let mut last = String::from("no attempt");
    let attempts = async {
        loop {
            match client.get(url).await {
                Ok(response) if response.status.is_success() => return response,
                Ok(response) => last = format!("status {}", response.status),
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(RETRY).await;
        }
    };
    let outcome = tokio::time::timeout(deadline, attempts).await;
    match outcome {
        Ok(response) => Ok(response),
        Err(_) => Err(HarnessError::Deadline {
            what: format!("GET {url} answering 2xx"),
            deadline,
            last,
        }),
    }
}

/// Retries connecting to `addr` until it accepts.
///
/// # Errors
/// [`HarnessError::Deadline`] with the last connect error.
pub async fn wait_for_tcp(addr: SocketAddr, deadline: Duration) -> Result<(), HarnessError> {
    let mut last = String::from("no attempt");
    let attempts = async {
        loop {
            match TcpStream::connect(addr).await {
                Ok(_) => return,
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(RETRY).await;
        }
    };
    let outcome = tokio::time::timeout(deadline, attempts).await;
    outcome.map_err(|_| HarnessError::Deadline {
        what: format!("{addr} accepting connections"),
        deadline,
        last,
    })
}
