// Plain Kotlin on the JVM, no Android classes: the view models and the generated
// bindings they drive. tests/kotlin's Maven build compiles and tests the same sources
// (the only build of this demo that ran where it was written).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

sourceSets {
    main {
        // The generated bindings are used where scripts/bindings writes them, never
        // copied, so the app cannot drift from the library it ships.
        kotlin.srcDir("../../ffi/bindings/kotlin")
    }
    test {
        // The live scenario server harness and the Kotlin transport of the ffi suite.
        kotlin.srcDir("../../tests/kotlin/src/test/kotlin")
    }
}

dependencies {
    api(libs.kotlinx.coroutines.core)
    // JNA is the app's to choose: the Android app adds the `@aar` (with
    // libjnidispatch.so per ABI), the JVM tests the plain jar.
    compileOnly(libs.jna)

    testImplementation(libs.jna)
    testImplementation(libs.kotlinx.coroutines.test)
    testImplementation(libs.junit.jupiter)
    testRuntimeOnly(libs.junit.launcher)
}

// The JVM tests load the desktop build of the library and start the scenario server:
// `cargo build -p fieldbook-ffi -p fieldbook-tests --bin fieldbook-scenario-server`.
val fieldbookTarget = providers.gradleProperty("fieldbook.target")
    .orElse(layout.projectDirectory.dir("../../target/debug").asFile.path)

tasks.test {
    useJUnitPlatform()
    systemProperty("jna.library.path", fieldbookTarget.get())
    systemProperty("fieldbook.scenarioServer", "${fieldbookTarget.get()}/fieldbook-scenario-server")
}
