//! Turns the JSON records of a comparison run into one Markdown table with ratios.

use serde_json::Value;

/// Metrics shown per scenario: (JSON path in `results`, label, unit).
fn metrics(scenario: &str) -> &'static [(&'static str, &'static str)] {
    match scenario {
        "fanout" => &[
            ("deliveries_per_s", "deliveries/s ↑"),
            ("deliveries_per_cpu_s", "deliveries per server CPU-s ↑"),
            ("server_cpu_s", "server CPU-s ↓"),
            ("server_cpu_pct", "server CPU % of one core"),
            ("latency.p50_ms", "latency p50 ms ↓"),
            ("latency.p99_ms", "latency p99 ms ↓"),
            ("latency_first_s.p99_ms", "p99 ms of the first second ↓"),
            ("latency.max_ms", "latency max ms ↓"),
            ("lost", "lost deliveries ↓"),
            ("nats.room_msgs_per_line", "NATS room msgs per line (cluster)"),
            ("gen_cpu_s", "load generator CPU-s"),
            ("other_cpu_s", "other CPU-s on the machine"),
        ],
        "pm" => &[
            ("deliveries_per_s", "msgs/s ↑"),
            ("deliveries_per_cpu_s", "msgs per server CPU-s ↑"),
            ("latency.p50_ms", "latency p50 ms ↓"),
            ("latency.p99_ms", "latency p99 ms ↓"),
            ("latency.max_ms", "latency max ms ↓"),
            ("other_cpu_s", "other CPU-s on the machine"),
        ],
        "idle" => &[
            ("ready", "sessions reached ↑"),
            ("rss_kib", "server RSS KiB ↓"),
            ("rss_per_session_kib", "RSS per session KiB ↓"),
            ("server_cpu_s", "server CPU-s (setup + hold) ↓"),
        ],
        "login-attack" => &[
            ("owner.latency.p50_ms", "owner's login p50 ms ↓"),
            ("owner.latency.p99_ms", "owner's login p99 ms ↓"),
            ("owner.latency.max_ms", "owner's login max ms ↓"),
            ("owner.refused", "owner's logins refused ↓"),
            ("second_account.latency.p99_ms", "second account's login p99 ms ↓"),
            ("attempts_per_s", "attacker attempts answered/s"),
            ("attacker_disconnects", "attacker disconnects"),
            ("server_cpu_s", "server CPU-s"),
            ("rss_after_kib", "server RSS KiB after ↓"),
        ],
        "flood" => &[
            ("baseline.p99_ms", "paced p99 ms before the flood ↓"),
            ("flood.p99_ms", "paced p99 ms during the flood ↓"),
            ("paced_lost", "paced lines lost ↓"),
            ("flood_sent", "flood lines written by the flooder"),
            ("flood_lines_per_reader", "flood lines each reader got"),
            ("members_closed", "members disconnected ↓"),
            ("flooder_closed", "flooder disconnected"),
            ("server_cpu_s", "server CPU-s"),
        ],
        "login-storm" => &[
            ("baseline.p99_ms", "chat p99 ms without storm ↓"),
            ("storm.p99_ms", "chat p99 ms during storm ↓"),
            ("p99_ratio", "p99 storm ÷ without ↓"),
            ("logins_per_s", "logins/s during storm ↑"),
        ],
        "slow-reader" => &[
            ("baseline.p99_ms", "others' p99 ms, all reading ↓"),
            ("slow.p99_ms", "others' p99 ms, one not reading ↓"),
            ("p99_ratio", "p99 ratio ↓"),
            ("rss_growth_kib", "server RSS growth KiB ↓"),
            ("slow_reader_dropped", "slow reader dropped"),
            ("server_cpu_s", "server CPU-s"),
        ],
        _ => &[],
    }
}

fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn fmt_num(v: &Value) -> String {
    match v {
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if !n.is_f64() || f.abs() >= 100.0 {
                format!("{:.0}", f)
            } else if f.abs() >= 10.0 {
                format!("{f:.1}")
            } else {
                format!("{f:.3}")
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// Builds the table from JSON lines; `ours` is the label divided by each peer.
pub fn render(text: &str, ours: &str) -> String {
    let recs: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    // Without a record of `ours` (e.g. only dmconnect-limits ran), the first label leads.
    let ours = if recs.iter().any(|r| r["label"].as_str() == Some(ours)) {
        ours
    } else {
        recs.first().and_then(|r| r["label"].as_str()).unwrap_or(ours)
    };
    let mut labels: Vec<String> = vec![ours.to_string()];
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in &recs {
        let label = r["label"].as_str().unwrap_or("?").to_string();
        if !labels.contains(&label) {
            labels.push(label);
        }
        let scen = r["scenario"].as_str().unwrap_or("?").to_string();
        let key = r["tag"].as_str().filter(|t| !t.is_empty()).map_or(scen.clone(), str::to_string);
        if !keys.iter().any(|(k, _)| *k == key) {
            keys.push((key, scen));
        }
    }
    let peers = &labels[1..];
    let mut out = String::from("| scenario | metric |");
    for l in &labels {
        out += &format!(" {l} |");
    }
    for p in peers {
        out += &format!(" {ours} ÷ {p} |");
    }
    out += "\n|---|---|";
    out += &"---:|".repeat(labels.len() + peers.len());
    out += "\n";
    for (key, scen) in &keys {
        let find = |label: &str| {
            recs.iter().rev().find(|r| {
                r["label"].as_str() == Some(label)
                    && r["tag"].as_str().filter(|t| !t.is_empty()).or(r["scenario"].as_str()) == Some(key.as_str())
            })
        };
        for (path, name) in metrics(scen) {
            let vals: Vec<Option<&Value>> =
                labels.iter().map(|l| find(l).and_then(|r| get(&r["results"], path))).collect();
            out += &format!("| {key} | {name} |");
            for v in &vals {
                out += &format!(" {} |", v.map_or("—".into(), fmt_num));
            }
            // Ratios only where higher or lower is better.
            let ranked = name.contains('↑') || name.contains('↓');
            let mine = vals[0].and_then(Value::as_f64).filter(|_| ranked);
            for v in &vals[1..] {
                let ratio = match (mine, v.and_then(Value::as_f64)) {
                    (Some(a), Some(b)) if b != 0.0 => format!("{:.2}×", a / b),
                    _ => "—".into(),
                };
                out += &format!(" {ratio} |");
            }
            out += "\n";
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_divide_ours_by_each_peer() {
        let text = r#"{"label":"dm","scenario":"fanout","tag":"flat","results":{"deliveries_per_s":300,"latency":{"p99_ms":2.0}}}
{"label":"ng","scenario":"fanout","tag":"flat","results":{"deliveries_per_s":100,"latency":{"p99_ms":4.0}}}
"#;
        let t = render(text, "dm");
        assert!(t.contains("| flat | deliveries/s ↑ | 300 | 100 | 3.00× |"), "{t}");
        assert!(t.contains("| flat | latency p99 ms ↓ | 2.000 | 4.000 | 0.50× |"), "{t}");
    }
}
