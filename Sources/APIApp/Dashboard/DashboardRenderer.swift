import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The dashboard's templates and static files, loaded once from the package's resources.
struct DashboardRenderer: Sendable {
    let library: MustacheLibrary
    /// `dashboard.css` and `dashboard.js`, with their media types.
    let assets: [String: (type: String, body: ByteBuffer)]

    init() throws {
        guard let folder = Bundle.module.url(forResource: "dashboard", withExtension: nil) else {
            throw DashboardError.missingResources
        }
        var library = MustacheLibrary()
        var assets: [String: (type: String, body: ByteBuffer)] = [:]
        for file in try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil) {
            let data = try Data(contentsOf: file)
            switch file.pathExtension {
            case "mustache":
                try library.register(String(decoding: data, as: UTF8.self), named: file.deletingPathExtension().lastPathComponent)
            case "css":
                assets[file.lastPathComponent] = ("text/css; charset=utf-8", ByteBuffer(bytes: data))
            case "js":
                assets[file.lastPathComponent] = ("text/javascript; charset=utf-8", ByteBuffer(bytes: data))
            default:
                continue
            }
        }
        self.library = library
        self.assets = assets
    }

    /// A piece of a page (no layout).
    func fragment(_ template: String, _ context: [String: Any]) -> String {
        library.render(context, withTemplate: template) ?? ""
    }

    /// A whole page as an HTML response.
    func page(_ template: String, _ context: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let html = library.render(context, withTemplate: template) ?? ""
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy:
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
                .xContentTypeOptions: "nosniff", .referrerPolicy: "same-origin",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

enum DashboardError: Error, CustomStringConvertible {
    case missingResources
    var description: String { "the dashboard's templates are missing from this build" }
}

extension HTTPField.Name {
    static let referrerPolicy = Self("Referrer-Policy")!
    static let accelBuffering = Self("X-Accel-Buffering")!
}
