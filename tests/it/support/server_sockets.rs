//! The server's side of its connections, as the kernel tells it in
//! `/proc/net/tcp`: which are established, and how many bytes each has
//! received that the server has not read yet. A test that must know the
//! server has read what it sent waits for these queues to drain, not for
//! a fixed time.

/// One established IPv4 connection whose local end is the server's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSocket {
    /// Bytes received and not yet read by the server.
    pub unread: u64,
}

/// A row of `/proc/net/tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    local_port: u16,
    /// `01` established, `0A` listening.
    state: u8,
    unread: u64,
    inode: u64,
}

fn table() -> Vec<Row> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp is readable");
    parse(&table)
}

/// `/proc/net/tcp`'s rows: `sl local rem st tx_queue:rx_queue tr tm->when
/// retrnsmt uid timeout inode ...`, the addresses as hex `IP:PORT`.
fn parse(table: &str) -> Vec<Row> {
    table
        .lines()
        .skip(1)
        .filter_map(|row| {
            let fields: Vec<&str> = row.split_whitespace().collect();
            let local_port = u16::from_str_radix(fields.get(1)?.rsplit(':').next()?, 16).ok()?;
            let state = u8::from_str_radix(fields.get(3)?, 16).ok()?;
            let (_, rx_queue) = fields.get(4)?.split_once(':')?;
            let unread = u64::from_str_radix(rx_queue, 16).ok()?;
            let inode = fields.get(9)?.parse().ok()?;
            Some(Row {
                local_port,
                state,
                unread,
                inode,
            })
        })
        .collect()
}

/// The established connections to `port` on the server's side.
pub fn established_to(port: u16) -> Vec<ServerSocket> {
    table()
        .into_iter()
        .filter(|row| row.state == 0x01 && row.local_port == port)
        .map(|row| ServerSocket { unread: row.unread })
        .collect()
}

/// The ports process `pid` listens on (IPv4), found through the sockets
/// among its open files: no port is picked for it, so none can be taken.
pub fn listening_ports(pid: u32) -> Vec<u16> {
    let Ok(files) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let inodes: Vec<u64> = files
        .filter_map(|file| std::fs::read_link(file.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            target.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect();
    let mut ports: Vec<u16> = table()
        .into_iter()
        .filter(|row| row.state == 0x0A && inodes.contains(&row.inode))
        .map(|row| row.local_port)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Waits until the server has read every byte sent on its connections to
/// `port` (their receive queues are empty), `at_least` of them open.
pub async fn all_read_by_server(port: u16, at_least: usize, what: &str) {
    imagegram_testkit::eventually(std::time::Duration::from_secs(120), what, || async {
        let sockets = established_to(port);
        let unread: u64 = sockets.iter().map(|s| s.unread).sum();
        if sockets.len() >= at_least && unread == 0 {
            Ok(())
        } else {
            Err(format!("{} connections, {unread} bytes unread", sockets.len()))
        }
    })
    .await
}

/// The port of a base URL such as `http://127.0.0.1:40123`.
pub fn port_of(base: &str) -> u16 {
    base.trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {base}"))
}

#[test]
fn rows_of_proc_net_tcp_are_read() {
    let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000010 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1\n\
   2: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1\n";
    let rows = parse(table);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[1],
        Row {
            local_port: 8080,
            state: 1,
            unread: 16,
            inode: 2
        }
    );
    assert_eq!(rows[0].state, 0x0A);
    assert_eq!(port_of("http://127.0.0.1:8080"), 8080);
    assert_eq!(port_of("http://127.0.0.1:9464/metrics"), 9464);
}
