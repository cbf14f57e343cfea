// Fieldbook's Android demo: `shared` (plain Kotlin view models over the generated
// bindings, also compiled and tested by tests/kotlin's Maven build) and `app` (Compose).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "fieldbook-android-demo"
include(":shared", ":app")
