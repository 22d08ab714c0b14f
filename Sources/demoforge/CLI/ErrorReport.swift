import DemoForgeCore
import DemoForgeStore

/// Maps errors from the library to an exit status and a message for people.
enum ErrorReport {
    static func describe(_ error: any Error) -> (Int32, String) {
        switch error {
        case let error as CLIError:
            return (error.status, error.message)
        case let error as ConfigError:
            return (2, error.message)
        case let error as StoreError:
            switch error.code {
            case .invalid, .exists, .notFound, .schemaTooNew, .corrupt: return (2, error.message)
            default: return (1, error.message)
            }
        case let error as BuildError:
            return (error.code == .noCommand ? 2 : 1, error.message)
        case is CancellationError:
            return (1, "cancelled")
        default:
            return (1, String(describing: error))
        }
    }
}
