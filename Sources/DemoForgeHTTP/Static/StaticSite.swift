#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The built-in static server of previews: serves one folder (a site's `public/`) and nothing outside it.
public enum StaticSite {
    /// A router that answers every GET/HEAD from files under `root`.
    ///
    /// Folders answer with their `index.html` (a folder named without its trailing slash is redirected to it with
    /// a 301, so that the page's relative links resolve inside the folder); a missing file is a 404; a path with
    /// `..`, a NUL or a backslash is a 400; a symlink that resolves outside `root` is a 404, like a missing file.
    public static func router(root: URL) -> Router {
        var router = Router()
        let base = realPath(root.path) ?? root.standardizedFileURL.path
        router.fallback = { request in
            try response(for: request.segments, base: base, rawPath: request.path)
        }
        return router
    }

    static func response(for segments: [String], base: String, rawPath: String = "/") throws -> HTTPResponse {
        for segment in segments where segment == ".." || segment == "." || segment.contains("\0") || segment.contains("\\") || segment.contains("/") {
            throw HTTPError.badRequest("Invalid path segment \"\(segment)\"")
        }
        var path = ([base] + segments).joined(separator: "/")
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            if !rawPath.hasSuffix("/") {
                // The raw path is still percent-encoded: safe to send back as it came.
                return HTTPResponse(status: 301, headers: ["Location": rawPath + "/"], body: .bytes([]))
            }
            path += "/index.html"
        }
        // The real path must stay inside the root: a symlink cannot lead out of it.
        guard let real = realPath(path), real == base || real.hasPrefix(base + "/"),
            let data = FileManager.default.contents(atPath: real)
        else {
            return HTTPResponse(
                status: 404, headers: ["Content-Type": "text/html; charset=utf-8"],
                body: .bytes(Array("<!doctype html><title>Not found</title><h1>404 Not found</h1>".utf8)))
        }
        var headers: HTTPHeaders = ["Content-Type": DashboardAssets.contentType(for: real)]
        headers.add("Cache-Control", "no-cache")
        return HTTPResponse(status: 200, headers: headers, body: .bytes(Array(data)))
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
