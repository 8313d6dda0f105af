//! The hub's state: settings, storage, the directory's maps, the subservers,
//! and the installed capabilities and federation. Behaviour lives in the
//! sibling files (`directory.rs`, `rooms.rs`, `delivery.rs`), each an `impl Hub`.

use super::handle::SessionHandle;
use super::room::Rooms;
use crate::bus::{Bus, NoBus};
use crate::caps::{Capabilities, NoCapabilities};
use crate::remote::{Federation, NoFederation};
use crate::store::{Store, StoreError};
use crate::sync::{rd, wr};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// Settings the hub needs from the config.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Advertised host name.
    pub host: String,
    /// The subserver that always exists.
    pub default_room: String,
    /// Accounts allowed to /ban and /delete_server.
    pub admins: Vec<String>,
    /// Where state lives.
    pub data_dir: PathBuf,
    /// `[limits] max_remote_members_per_room`: members from other hosts per local subserver; 0 = unlimited.
    pub max_remote_members: usize,
}

/// Every client connection, logged-in sessions by id and by account (see `directory.rs`).
#[derive(Default)]
pub(super) struct Directory {
    /// Every client connection, logged in or not (shutdown, idle sweep).
    pub(super) connections: Mutex<HashMap<u64, Arc<SessionHandle>>>,
    /// Logged-in sessions by id (capabilities' `send_to_session`).
    pub(super) sessions: RwLock<HashMap<u64, Arc<SessionHandle>>>,
    /// Logged-in sessions by account.
    pub(super) online: RwLock<HashMap<Arc<str>, Vec<Arc<SessionHandle>>>>,
    /// Accounts this node last told its presence observers are online (cluster-wide).
    /// A login here and one seen in another node's heartbeat race each other;
    /// this is what makes observers hear each change once.
    pub(super) reported: Mutex<std::collections::HashSet<Arc<str>>>,
}

/// The shared state of the server.
pub struct Hub {
    settings: HubSettings,
    /// `max_remote_members_per_room`, changed by a reload.
    max_remote_members: AtomicUsize,
    /// Effective administrators: `[server] admins` plus the database's (reloadable).
    admins: RwLock<Vec<String>>,
    pub(super) store: Store,
    listen_port: AtomicU16,
    next_id: AtomicU64,
    pub(super) directory: Directory,
    pub(super) rooms: Rooms,
    caps: OnceLock<Arc<dyn Capabilities>>,
    pub(super) federation: OnceLock<Arc<dyn Federation>>,
    bus: OnceLock<Arc<dyn Bus>>,
}

impl Hub {
    /// Builds the hub with the stored subservers (the default one first if new).
    pub fn new(settings: HubSettings, store: Store) -> Result<Arc<Hub>, StoreError> {
        store.add_room(&settings.default_room)?;
        let rooms = Rooms::new(store.rooms()?);
        let mut admins = settings.admins.clone();
        admins.extend(store.admins()?);
        Ok(Arc::new(Hub {
            max_remote_members: AtomicUsize::new(settings.max_remote_members),
            settings,
            admins: RwLock::new(admins),
            store,
            listen_port: AtomicU16::new(0),
            next_id: AtomicU64::new(1),
            directory: Directory::default(),
            rooms,
            caps: OnceLock::new(),
            federation: OnceLock::new(),
            bus: OnceLock::new(),
        }))
    }

    /// The settings this hub runs with.
    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    /// Members of other hosts allowed per local subserver (0 = unlimited).
    pub fn max_remote_members(&self) -> usize {
        self.max_remote_members.load(Ordering::Relaxed)
    }

    /// A reloaded `max_remote_members_per_room`; members already in stay.
    pub fn set_max_remote_members(&self, n: usize) {
        self.max_remote_members.store(n, Ordering::Relaxed);
    }

    /// Advertised host name.
    pub fn host(&self) -> &str {
        &self.settings.host
    }

    /// The actual bound main port.
    pub fn listen_port(&self) -> u16 {
        self.listen_port.load(Ordering::Relaxed)
    }

    /// Records the bound main port.
    pub fn set_listen_port(&self, port: u16) {
        self.listen_port.store(port, Ordering::Relaxed);
    }

    /// Where state lives.
    pub fn data_dir(&self) -> &Path {
        &self.settings.data_dir
    }

    /// The storage handle.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The loaded capabilities.
    pub fn caps(&self) -> &dyn Capabilities {
        self.caps.get().map_or(&NoCapabilities, |c| c.as_ref())
    }

    /// Installs the capability registry (once, at startup).
    pub fn set_capabilities(&self, caps: Arc<dyn Capabilities>) {
        let _ = self.caps.set(caps);
    }

    /// The federation client.
    pub fn federation(&self) -> &dyn Federation {
        self.federation.get().map_or(&NoFederation, |f| f.as_ref())
    }

    /// Installs federation (once, at startup).
    pub fn set_federation(&self, f: Arc<dyn Federation>) {
        let _ = self.federation.set(f);
    }

    /// The other nodes of a cluster (`NoBus` on a single node).
    pub fn bus(&self) -> &dyn Bus {
        self.bus.get().map_or(&NoBus, |b| b.as_ref())
    }

    /// Installs the cluster bus (once, at startup).
    pub fn set_bus(&self, bus: Arc<dyn Bus>) {
        let _ = self.bus.set(bus);
    }

    /// A fresh session id.
    pub fn next_session_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Is this account an administrator?
    pub fn is_admin(&self, account: &str) -> bool {
        rd(&self.admins).iter().any(|a| a == account)
    }

    /// Replaces the effective administrators (reload, `dmconnect admin`).
    pub fn set_admins(&self, admins: Vec<String>) {
        *wr(&self.admins) = admins;
    }
}
