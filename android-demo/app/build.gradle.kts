plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

android {
    namespace = "fieldbook.demo.android"
    compileSdk = 36
    // r28+: its toolchain aligns native libraries to 16 KB pages, which Google Play
    // requires of apps targeting Android 15+. build-native.sh must use the same NDK.
    ndkVersion = "28.2.13676358"

    defaultConfig {
        applicationId = "fieldbook.demo.android"
        minSdk = 24
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            // The ABIs build-native.sh produces; x86_64 is for the emulator.
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        // The bindings use java.time.Instant, native only from API 26: desugaring
        // brings it to minSdk 24.
        isCoreLibraryDesugaringEnabled = true
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildFeatures {
        compose = true
    }

    packaging {
        jniLibs {
            // Stored uncompressed and page-aligned, so the loader maps them in place
            // (required for 16 KB pages, and faster to start).
            useLegacyPackaging = false
        }
    }
    // jniLibs come from build-native.sh (cargo-ndk) into src/main/jniLibs, the default.
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(project(":shared"))
    // The Android JNA: classes plus libjnidispatch.so per ABI. The plain jar would
    // carry desktop natives only.
    implementation("net.java.dev.jna:jna:${libs.versions.jna.get()}@aar")
    implementation(libs.kotlinx.coroutines.android)

    implementation(platform(libs.compose.bom))
    implementation(libs.compose.ui)
    implementation(libs.compose.material3)
    implementation(libs.compose.ui.tooling.preview)
    debugImplementation(libs.compose.ui.tooling)
    implementation(libs.activity.compose)
    implementation(libs.lifecycle.viewmodel.compose)
    implementation(libs.lifecycle.runtime.compose)
    implementation(libs.navigation.compose)
    implementation(libs.work.runtime.ktx)
    implementation(libs.core.ktx)

    coreLibraryDesugaring(libs.desugar.jdk.libs)
}
