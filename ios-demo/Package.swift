// swift-tools-version:5.9
//
// Fieldbook's iOS demo as a Swift package:
//   fieldbook_ffiFFI  the Rust library (static, per platform) with its C header and
//                     module map, as an XCFramework built by build-xcframework.sh;
//   FieldbookKit      the generated Swift bindings (FieldbookFFI.swift, copied in by
//                     the script) compiled together with the view models.
// The SwiftUI app (App/) depends on FieldbookKit; project.yml describes its Xcode project.
//
// The bindings and the view models share one target on purpose: the generated
// `FieldbookError` is declared `internal` (ffi/bindings/swift/FieldbookFFI.swift), so
// only code in the same module can switch over its cases to pick the rep's message.
import PackageDescription

let package = Package(
    name: "FieldbookDemo",
    platforms: [.iOS(.v16)],
    products: [
        .library(name: "FieldbookKit", targets: ["FieldbookKit"]),
    ],
    targets: [
        .binaryTarget(name: "fieldbook_ffiFFI", path: "build/fieldbook_ffiFFI.xcframework"),
        .target(
            name: "FieldbookKit",
            dependencies: ["fieldbook_ffiFFI"],
            path: "Sources/FieldbookKit"
        ),
    ]
)
