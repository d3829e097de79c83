import Foundation
import Hummingbird
import NIOCore
import Workflow

extension ReviewServer {
    /// `POST /api/train` starts `quadrat train` on the labels as reviewed (a folder of links beside the data),
    /// `GET /api/train/events` streams its output, `POST /api/train/cancel` interrupts it like Ctrl-C, and
    /// `GET /run/report.html` serves its report once written.
    func addTrainingRoutes(_ router: Router<BasicRequestContext>) {
        router.get("api/train") { _, _ in try json(training.status) }
        router.post("api/train") { _, _ in
            try await respond {
                guard let executable else { throw RequestProblem(.notImplemented, "this server cannot start runs") }
                // Before the training folder is written anew: the run going may be reading it.
                guard training.status.phase != .running else {
                    throw RequestProblem(.conflict, ReviewTrainingBusy().description)
                }
                let root = session.reviewed.source.deletingLastPathComponent()
                let folder = root.appendingPathComponent("review-training-set")
                let count = try session.writeTrainingFolder(folder)
                let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
                let out = root.appendingPathComponent("review-runs/\(stamp)")
                var arguments = ["train", folder.path, "--out", out.path]
                arguments += ["--task", session.options.task.rawValue]
                if session.options.severalLabels { arguments += ["--label-delimiter", session.options.delimiter] }
                arguments += trainArguments
                do {
                    try training.start(executable: executable, arguments: arguments, out: out)
                } catch let busy as ReviewTrainingBusy {
                    throw RequestProblem(.conflict, busy.description)
                }
                return try json(["started": out.path, "photos": "\(count)"])
            }
        }
        router.post("api/train/cancel") { _, _ in
            training.cancel()
            return try json(training.status)
        }
        router.get("api/train/events") { _, _ in
            let events = training.events()
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    for await line in events {
                        try await writer.write(ByteBuffer(string: "data: \(line)\n\n"))
                    }
                    try await writer.write(
                        ByteBuffer(string: "event: end\ndata: \(training.status.phase.rawValue)\n\n"))
                    try await writer.finish(nil)
                })
        }
        router.get("run/report.html") { _, _ in
            guard let report = training.runFolder?.appendingPathComponent("report.html"),
                let text = try? String(contentsOf: report, encoding: .utf8)  // not written yet: 404
            else { throw HTTPError(.notFound, message: "no report yet") }
            return html(text)
        }
    }
}
