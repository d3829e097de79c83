import Foundation

/// Headless Chromium (Debian's `chromium`) driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
/// commands go in on file descriptor 3, answers and events come out on 4, each message JSON ending in a NUL byte),
/// so browser tests need no WebSocket client and no driver binary.
public final class HeadlessBrowser {
    public static let executable = "/usr/bin/chromium"
    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    private let pid: pid_t
    private let commands: Int32, answers: Int32
    private var nextID = 1
    private var pending: [UInt8] = []
    private var session: String?
    private let profile: URL

    /// Starts the browser with a window of `width`×`height` CSS pixels.
    public init(width: Int = 1400, height: Int = 900) throws {
        profile = try Fixtures.temporaryFolder()
        var toBrowser: [Int32] = [0, 0], fromBrowser: [Int32] = [0, 0]
        guard pipe(&toBrowser) == 0, pipe(&fromBrowser) == 0 else { throw TestFailure("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toBrowser[0], 3)
        posix_spawn_file_actions_adddup2(&actions, fromBrowser[1], 4)
        let devNull = Glibc.open("/dev/null", O_WRONLY)
        posix_spawn_file_actions_adddup2(&actions, devNull, 1)
        posix_spawn_file_actions_adddup2(&actions, devNull, 2)
        let arguments = [
            Self.executable, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            "--no-first-run", "--user-data-dir=\(profile.path)", "--window-size=\(width),\(height)",
            "--hide-scrollbars", "about:blank",
        ]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, Self.executable, &actions, nil, &argv, environ)
        close(toBrowser[0])
        close(fromBrowser[1])
        close(devNull)
        guard status == 0 else { throw TestFailure("cannot start chromium: \(String(cString: strerror(status)))") }
        (pid, commands, answers) = (child, toBrowser[1], fromBrowser[0])
    }

    deinit {
        close(commands)
        close(answers)
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        try? FileManager.default.removeItem(at: profile)  // a temporary profile: leaving it costs only disk
    }

    /// Sends a command (to the page's session once ``open(_:)`` attached one) and returns its result.
    @discardableResult
    public func send(_ method: String, _ params: [String: Any] = [:], toBrowser: Bool = false) throws -> [String: Any] {
        let id = nextID
        nextID += 1
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if !toBrowser, let session { message["sessionId"] = session }
        var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(commands, $0.baseAddress, $0.count) }
            guard n > 0 else { throw TestFailure("writing to chromium failed") }
            sent += n
        }
        while true {
            let answer = try nextMessage()
            guard answer["id"] as? Int == id else { continue }  // an event, or an older answer
            if let error = answer["error"] as? [String: Any] {
                throw TestFailure("\(method): \(error["message"] ?? error)")
            }
            return answer["result"] as? [String: Any] ?? [:]
        }
    }

    /// The next message from the browser (waiting at most 60 s).
    private func nextMessage() throws -> [String: Any] {
        while true {
            if let end = pending.firstIndex(of: 0) {
                let data = Data(pending[..<end])
                pending.removeSubrange(...end)
                return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
            }
            var poller = pollfd(fd: answers, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 60_000) > 0 else { throw TestFailure("chromium did not answer within 60 s") }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = chunk.withUnsafeMutableBytes { read(answers, $0.baseAddress, $0.count) }
            guard n > 0 else { throw TestFailure("chromium closed its pipe") }
            pending += chunk[..<n]
        }
    }

    /// Opens `url` in a new page and attaches to it: later commands go to that page.
    public func open(_ url: String) throws {
        let target = try send("Target.createTarget", ["url": url], toBrowser: true)
        guard let id = target["targetId"] as? String else { throw TestFailure("no target for \(url)") }
        let attached = try send("Target.attachToTarget", ["targetId": id, "flatten": true], toBrowser: true)
        session = attached["sessionId"] as? String
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    public func evaluate(_ expression: String) throws -> Any? {
        let result = try send(
            "Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
        if let exception = result["exceptionDetails"] { throw TestFailure("\(expression): \(exception)") }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// Waits (up to `seconds`) until `condition`, a JavaScript expression, is true in the page.
    public func wait(for condition: String, seconds: Double = 30) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try evaluate("!!(\(condition))") as? Bool == true { return }
            usleep(20_000)
        }
        throw TestFailure("waited \(seconds) s for \(condition)")
    }

    /// A key pressed and released, as a user types it (`key` as KeyboardEvent.key names it: "1", " ", "ArrowRight").
    public func press(_ key: String, alt: Bool = false) throws {
        let (code, virtual): (String, Int) =
            switch key {
            case " ": ("Space", 32)
            case "ArrowRight": ("ArrowRight", 39)
            case "ArrowLeft": ("ArrowLeft", 37)
            case "Enter": ("Enter", 13)
            case "Escape": ("Escape", 27)
            default:
                key.first?.isNumber == true
                    ? ("Digit\(key)", Int(key.unicodeScalars.first?.value ?? 0))
                    : ("Key\(key.uppercased())", Int(key.uppercased().unicodeScalars.first?.value ?? 0))
            }
        var event: [String: Any] = [
            "key": key, "code": code, "windowsVirtualKeyCode": virtual, "modifiers": alt ? 1 : 0,
        ]
        if key.count == 1, !alt { event["text"] = key }
        event["type"] = "keyDown"
        try send("Input.dispatchKeyEvent", event)
        event["type"] = "keyUp"
        event.removeValue(forKey: "text")
        try send("Input.dispatchKeyEvent", event)
    }

    /// A PNG of the page as it is now.
    public func screenshot(to url: URL) throws {
        let shot = try send("Page.captureScreenshot", ["format": "png"])
        guard let base64 = shot["data"] as? String, let data = Data(base64Encoded: base64) else {
            throw TestFailure("no screenshot")
        }
        try data.write(to: url)
    }
}
