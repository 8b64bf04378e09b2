//! [`serve`]: the endpoint on a listener of its own, and the [`Server`] handle that stops it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use fusebox_registry::Registry;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::AdminConfig;
use crate::state::AppState;
use crate::{Error, routes};

/// Binds `addr` and serves the endpoint ([`router`](crate::router)) on it, from a task of the
/// current tokio runtime; returns once the address is bound. Prints nothing.
///
/// Port 0 picks a free port: [`Server::local_addr`] says which. The server runs until
/// [`Server::shutdown`] is called or the [`Server`] is dropped.
///
/// With no token configured ([`AdminConfig::has_token`]), only a loopback address is
/// accepted: an open endpoint must not be reachable from the network.
///
/// # Errors
///
/// [`Error::NotLoopback`] for a non-loopback address with no token; [`Error::Bind`] if the
/// address cannot be bound.
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Examples
///
/// ```
/// use fusebox_admin::{AdminConfig, Error, serve};
/// use fusebox_registry::Registry;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let registry = Registry::new(fusebox_engine::Policy::default());
/// let server = serve(&registry, AdminConfig::new(), "127.0.0.1:0".parse()?).await?;
/// assert!(server.local_addr().ip().is_loopback());
/// server.shutdown().await?;
///
/// let refused = serve(&registry, AdminConfig::new(), "0.0.0.0:0".parse()?).await;
/// assert!(matches!(refused, Err(Error::NotLoopback { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub async fn serve(
    registry: &Registry,
    config: AdminConfig,
    addr: SocketAddr,
) -> Result<Server, Error> {
    if !config.has_token() && !addr.ip().is_loopback() {
        return Err(Error::NotLoopback { addr });
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    let state = AppState::new(registry, &config);
    let closing = state.closing.clone();
    let mut stop = closing.subscribe();
    let app = routes::all(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|closing| *closing).await;
            })
            .await
    });
    Ok(Server {
        local_addr,
        closing,
        task: Some(task),
    })
}

/// A running endpoint, from [`serve`]. Dropping it stops the server (in the background);
/// [`shutdown`](Self::shutdown) stops it and waits.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let registry = fusebox_registry::Registry::new(fusebox_engine::Policy::default());
/// let config = fusebox_admin::AdminConfig::new();
/// let server = fusebox_admin::serve(&registry, config, "127.0.0.1:0".parse()?).await?;
/// println!("operator endpoint on http://{}/fusebox/breakers", server.local_addr());
/// server.shutdown().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    closing: Arc<watch::Sender<bool>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Server {
    /// The address the server listens on (with the port picked, for port 0).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let registry = fusebox_registry::Registry::new(fusebox_engine::Policy::default());
    /// let server =
    ///     fusebox_admin::serve(&registry, Default::default(), "127.0.0.1:0".parse()?).await?;
    /// assert_ne!(server.local_addr().port(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, ends open event streams, lets requests in flight finish,
    /// and returns when the server has stopped.
    ///
    /// # Errors
    ///
    /// The server's I/O error, if it failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let registry = fusebox_registry::Registry::new(fusebox_engine::Policy::default());
    /// let server =
    ///     fusebox_admin::serve(&registry, Default::default(), "127.0.0.1:0".parse()?).await?;
    /// let addr = server.local_addr();
    /// server.shutdown().await?;
    /// assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.closing.send_replace(true);
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.closing.send_replace(true);
    }
}
