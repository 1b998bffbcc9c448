import Foundation
import TaskQueue
import WorkerApp

/// The TaskFlow worker process; everything it does lives in WorkerApp.
@main
enum WorkerMain {
    static func main() async {
        do {
            try await WorkerApp.run()
        } catch let error as EnvironmentReader.InvalidSetting {
            FileHandle.standardError.write(Data("worker: invalid configuration: \(error)\n".utf8))
            exit(2)
        } catch {
            FileHandle.standardError.write(Data("worker: \(error)\n".utf8))
            exit(1)
        }
    }
}
