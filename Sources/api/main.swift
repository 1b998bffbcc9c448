import APIApp
import Foundation
import TaskQueue

/// The TaskFlow REST API process; everything it does lives in APIApp.
@main
enum APIMain {
    static func main() async {
        do {
            try await APIApp.run()
        } catch let error as EnvironmentReader.InvalidSetting {
            FileHandle.standardError.write(Data("api: invalid configuration: \(error)\n".utf8))
            exit(2)
        } catch {
            FileHandle.standardError.write(Data("api: \(error)\n".utf8))
            exit(1)
        }
    }
}
