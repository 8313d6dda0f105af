//! Raises the open-files soft limit so `max_connections` sockets fit.

/// File descriptors kept for listeners, the database, plugins and logs.
const HEADROOM: u64 = 256;

/// Raises `RLIMIT_NOFILE` towards the hard limit; returns a warning when it stays too low.
pub fn raise_nofile(max_connections: usize) -> Result<String, String> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read or write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!("cannot read the open-files limit: {}", std::io::Error::last_os_error()));
    }
    let need = if max_connections == 0 { lim.rlim_max } else { max_connections as u64 + HEADROOM };
    let want = need.min(lim.rlim_max);
    if want > lim.rlim_cur {
        let new = libc::rlimit { rlim_cur: want, rlim_max: lim.rlim_max };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } == 0 {
            lim.rlim_cur = want;
        }
    }
    if lim.rlim_cur < need {
        return Err(format!(
            "open-files limit is {} (hard {}), but max_connections = {max_connections} needs about {need}; \
             raise LimitNOFILE / ulimit -n or lower [limits] max_connections",
            lim.rlim_cur, lim.rlim_max
        ));
    }
    Ok(format!("open-files limit {} (max_connections {max_connections})", lim.rlim_cur))
}
