import Foundation

/// The dashboard files bundled with the module (`Dashboard/`), served with their content types.
public enum DashboardAssets {
    /// The response for bundled file `name` (a plain file name, validated), or nil when there is none.
    public static func response(for name: String) -> HTTPResponse? {
        guard IdentifierRule.fileName.matches(name),
            let folder = Bundle.module.url(forResource: "Dashboard", withExtension: nil)
        else { return nil }
        let url = folder.appendingPathComponent(name)
        guard let data = try? Data(contentsOf: url) else { return nil }
        var headers: HTTPHeaders = ["Content-Type": contentType(for: name)]
        headers.add("Cache-Control", "no-cache")
        return HTTPResponse(status: 200, headers: headers, body: .bytes(Array(data)))
    }

    /// The content type for a file name's extension.
    public static func contentType(for name: String) -> String {
        let ext = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch ext {
        case "html", "htm": return "text/html; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json": return "application/json"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "ico": return "image/x-icon"
        case "txt": return "text/plain; charset=utf-8"
        case "woff2": return "font/woff2"
        case "woff": return "font/woff"
        case "webp": return "image/webp"
        case "gif": return "image/gif"
        case "xml": return "application/xml"
        case "webmanifest": return "application/manifest+json"
        default: return "application/octet-stream"
        }
    }
}

extension Router {
    /// Serves the bundled dashboard: `GET /` → `index.html`, `GET /dashboard/{file}` → that file (404 JSON
    /// when absent, 400 for a name such as `..`).
    public mutating func addDashboard() {
        getPublic("/") { _ in
            guard let response = DashboardAssets.response(for: "index.html") else {
                throw HTTPError.notFound("dashboard index.html is not bundled")
            }
            return response
        }
        getPublic("/dashboard/{file}") { request in
            let name = try request.parameter("file", matching: .fileName)
            guard let response = DashboardAssets.response(for: name) else {
                throw HTTPError.notFound("no dashboard file '\(name)'")
            }
            return response
        }
    }
}
