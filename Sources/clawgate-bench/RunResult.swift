/// What one run measured; rendered as one JSON object and as a human table.
struct RunResult {
    var mode: String
    var label: String
    var target: String
    var model: String
    var concurrency: Int
    var offeredRate: Double?
    var wallSeconds: Double = 0
    var completed = 0
    /// Warm-up requests that ended (any outcome): they cost the server CPU too, so a figure per
    /// request divides by `completed + warmupEnded`.
    var warmupEnded = 0
    var errors = 0
    var errorKinds: [String: Int] = [:]
    var latency = Samples()
    var ttft = Samples()
    /// Overhead the gateway reported itself (`x-clawgate-overhead-ms` header or `done.overhead_ms`).
    var reportedOverhead = Samples()
    var chunks = 0
    var textBytes = 0
    /// Distinct FNV-1a hashes of whole reply texts (1 when every reply was the same text).
    var textHashes: Set<UInt64> = []
    var sessionsOpen = 0
    var connectSeconds: Double = 0
    var clientCPUSeconds: Double = 0

    mutating func fail(_ kind: String) {
        errors += 1
        errorKinds[kind, default: 0] += 1
    }

    var throughput: Double { wallSeconds > 0 ? Double(completed) / wallSeconds : 0 }
    var chunksPerSecond: Double { wallSeconds > 0 ? Double(chunks) / wallSeconds : 0 }
    var clientCPUPercent: Double { wallSeconds > 0 ? clientCPUSeconds / wallSeconds * 100 : 0 }

    var json: String {
        var f: [String] = []
        f.append("\"mode\":\(quoted(mode))")
        f.append("\"label\":\(quoted(label))")
        f.append("\"target\":\(quoted(target))")
        f.append("\"model\":\(quoted(model))")
        f.append("\"concurrency\":\(concurrency)")
        f.append("\"offered_rate\":\(offeredRate.map { fmt($0) } ?? "null")")
        f.append("\"wall_s\":\(fmt(wallSeconds))")
        f.append("\"completed\":\(completed)")
        f.append("\"warmup_ended\":\(warmupEnded)")
        f.append("\"errors\":\(errors)")
        let kinds = errorKinds.sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\($0.value)" }
        f.append("\"error_kinds\":{\(kinds.joined(separator: ","))}")
        f.append("\"throughput_rps\":\(fmt(throughput))")
        f.append("\"latency_ms\":\(latency.summary()?.json ?? "null")")
        f.append("\"ttft_ms\":\(ttft.summary()?.json ?? "null")")
        f.append("\"reported_overhead_ms\":\(reportedOverhead.summary()?.json ?? "null")")
        f.append("\"chunks\":\(chunks)")
        f.append("\"chunks_per_s\":\(fmt(chunksPerSecond))")
        f.append("\"text_bytes\":\(textBytes)")
        f.append("\"distinct_texts\":\(textHashes.count)")
        f.append("\"sessions_open\":\(sessionsOpen)")
        f.append("\"connect_s\":\(fmt(connectSeconds))")
        f.append("\"client_cpu_s\":\(fmt(clientCPUSeconds))")
        f.append("\"client_cpu_pct\":\(fmt(clientCPUPercent))")
        return "{" + f.joined(separator: ",") + "}"
    }

    var table: String {
        var lines: [String] = []
        let rate = offeredRate.map { " rate=\(fmt($0))/s" } ?? ""
        lines.append("clawgate-bench \(mode) \(label.isEmpty ? "" : "[\(label)] ")→ \(target) model=\(model) c=\(concurrency)\(rate)")
        lines.append(String(repeating: "-", count: 72))
        lines.append(row("wall", "\(fmt(wallSeconds)) s"))
        lines.append(row("completed / errors", "\(completed) / \(errors)" + (errorKinds.isEmpty ? "" : "  \(errorKinds.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")))
        lines.append(row("throughput", "\(fmt(throughput)) req/s"))
        if let s = latency.summary() { lines.append(row("latency ms", summaryRow(s))) }
        if let s = ttft.summary() { lines.append(row("ttft ms", summaryRow(s))) }
        if let s = reportedOverhead.summary() { lines.append(row("gateway overhead ms", summaryRow(s))) }
        if chunks > 0 { lines.append(row("chunks", "\(chunks)  (\(fmt(chunksPerSecond))/s)")) }
        if textBytes > 0 { lines.append(row("text", "\(textBytes) bytes, \(textHashes.count) distinct replies")) }
        if mode == "idle-ws" { lines.append(row("sessions open", "\(sessionsOpen) (connected in \(fmt(connectSeconds)) s)")) }
        lines.append(row("client cpu", "\(fmt(clientCPUSeconds)) s = \(fmt(clientCPUPercent)) % of one core"))
        return lines.joined(separator: "\n")
    }

    private func row(_ k: String, _ v: String) -> String {
        k + String(repeating: " ", count: max(1, 22 - k.count)) + v
    }

    private func summaryRow(_ s: Samples.Summary) -> String {
        "p50 \(fmt(s.p50))  p95 \(fmt(s.p95))  p99 \(fmt(s.p99))  max \(fmt(s.max))  mean \(fmt(s.mean))"
    }
}

func quoted(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default:
            if u.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

/// FNV-1a, folded over reply text as it arrives.
struct FNV1a {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
    }
}
